"""`pcr local serve`: the local backend as a long-lived emulator that any AWS client can use."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

import typer

from pcr_sdk import InterruptedBySignal, handle_signals
from pcr_sdk.cli import _options as opt
from pcr_sdk.cli._local import ENV_LOCAL_DIR, account_directory
from pcr_sdk.cli._options import (
    ENV_BUCKET,
    ENV_IMAGE,
    ENV_POLL_SECONDS,
    ENV_QUEUE,
    LOCAL_POLL_SECONDS,
)
from pcr_sdk.cli._runtime import EXIT_INTERRUPTED, EXIT_USAGE, cli_errors, fail, interpreter_path

if TYPE_CHECKING:
    from pcr_sdk.local import LocalBackend

DEFAULT_PORT: Final = 4575
LOCAL_IMAGE: Final = "pcr-local"

local_app = typer.Typer(
    name="local",
    help="The local backend: AWS Batch, CloudWatch Logs and S3 on this machine.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)


LOOPBACK: Final = ("127.0.0.1", "::1", "localhost")
UNSET: Final = ("AWS_SESSION_TOKEN", "AWS_PROFILE")
"""Unset by the export lines: no real session token or profile reaches the local server."""


def _exports(backend: LocalBackend, image: str) -> dict[str, str]:
    pcr = {
        ENV_QUEUE: backend.queue,
        ENV_BUCKET: backend.bucket,
        ENV_IMAGE: image,
        ENV_POLL_SECONDS: f"{LOCAL_POLL_SECONDS:g}",
    }
    return {**backend.client_environment(), **pcr}


def _is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")


def _warnings(backend: LocalBackend, euid: int | None) -> list[str]:
    """What the operator must know before anyone else does: exposure and root."""
    found = []
    if not _is_loopback(backend.host):
        found.append(
            f"warning: listening on {backend.address}, beyond this machine: anyone who can "
            "reach it and holds the keys below runs any command here, as this user"
            + ("" if backend.allow_hosts else "; clients must use 127.0.0.1 or an --allow-host")
        )
    if euid == 0:
        found.append(
            "warning: serving as root: every job runs as root; serve as an unprivileged user"
        )
    return found


def _announce(backend: LocalBackend, image: str, command: list[str] | None) -> None:
    memory = f"{backend.memory_mib} MiB"
    limit = "" if backend.max_parallel is None else f", at most {backend.max_parallel} at once"
    runs = (
        f"image {image} runs: {shlex.join(command)}"
        if command
        else "a job runs its definition's command (or containerOverrides.command)"
    )
    if backend.containers is not None:
        runs = f"in {backend.containers} containers of their images; " + (
            f"image {image} runs: {shlex.join(command)}"
            if command
            else "the definition's command, else the image's own"
        )
    say = typer.echo
    for warning in _warnings(backend, os.geteuid() if hasattr(os, "geteuid") else None):
        typer.echo(warning, err=True)
    say(f"pcr local serve: AWS Batch, CloudWatch Logs and S3 at {backend.endpoint_url}")
    say(f"  listening   {backend.address}")
    account = backend.data_dir or Path()
    say(f"  account     {account} (S3 objects, jobs, logs: kept; pcr local ls)")
    say(f"  keys        {account / 'credentials'} (mode 0600, reused)")
    say(f"  job queue   {backend.queue}  ({backend.queue_arn})")
    say(f"  bucket      {backend.bucket}")
    say(f"  compute     {backend.vcpus:g} vCPUs, {memory}, {backend.gpus} GPUs{limit}")
    say(f"  jobs        {runs}")
    say(f"  job logs    {backend.log_dir}")
    say("Use it from another terminal (AWS CLI, boto3, any SDK, pcr):")
    say(f"  unset {' '.join(UNSET)}")
    for name, value in _exports(backend, image).items():
        say(f"  export {name}={shlex.quote(value)}")
    say("Ctrl-C or SIGTERM stops it and every job it runs.")


@local_app.command("serve")
def serve(
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="TCP port (0: any free one).")
    ] = DEFAULT_PORT,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Address to listen on (the default answers this machine only; any other "
            "needs --expose).",
        ),
    ] = "127.0.0.1",
    expose: Annotated[
        bool,
        typer.Option(
            "--expose",
            help="Allow a --host beyond loopback: whoever reaches it with the keys runs "
            "commands here.",
        ),
    ] = False,
    allow_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-host",
            help="Also answer requests for this Host name (repeatable); 127.0.0.1, localhost, "
            "[::1] and the --host address always work.",
            show_default=False,
        ),
    ] = None,
    command: Annotated[
        str | None,
        typer.Option(
            "--command",
            "-c",
            help=(
                'What jobs of image --image run, e.g. "python worker.py" (shell-quoted; '
                "`python` is the interpreter pcr runs in), unless submitted with "
                "containerOverrides.command. Jobs of other images run their definition's "
                "command."
            ),
            show_default=False,
        ),
    ] = None,
    image: Annotated[
        str,
        typer.Option(
            "--image",
            help=(
                "The image name --command is for; the export lines give it to "
                "`pcr submit` as PCR_IMAGE."
            ),
        ),
    ] = LOCAL_IMAGE,
    parallel: Annotated[
        int | None,
        typer.Option(
            "--parallel",
            "-p",
            min=1,
            help="At most this many jobs at once (default: as many as the resources allow).",
            show_default=False,
        ),
    ] = None,
    vcpus: Annotated[
        float | None,
        typer.Option(
            "--vcpus",
            min=0.25,
            help="vCPUs of the local compute environment (default: this machine's CPUs).",
            show_default=False,
        ),
    ] = None,
    memory: Annotated[
        int | None,
        typer.Option(
            "--memory",
            min=4,
            help="Memory of the local compute environment in MiB (default: this machine's).",
            show_default=False,
        ),
    ] = None,
    gpus: Annotated[
        int, typer.Option("--gpus", min=0, help="GPUs of the local compute environment.")
    ] = 0,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            envvar=ENV_LOCAL_DIR,
            file_okay=False,
            help=(
                "The local account it holds and keeps: S3 objects, jobs, logs, keys (default: "
                "the user's state directory, e.g. ~/.local/state/pcr-sdk/local)."
            ),
            show_default=False,
        ),
    ] = None,
    containers: opt.Containers = None,
    host_access: opt.HostAccess = False,
    docker: opt.RemovedDocker = False,
    queue: Annotated[str, typer.Option("--queue", help="The job queue's name.")] = LOCAL_IMAGE,
    bucket: Annotated[str, typer.Option("--bucket", help="The S3 bucket to create.")] = (
        LOCAL_IMAGE
    ),
    region: Annotated[str, typer.Option("--region", help="The region ARNs name.")] = "us-east-1",
) -> None:
    """Serve AWS Batch, CloudWatch Logs and S3 on this machine until Ctrl-C or SIGTERM.

    It holds the local account (S3 objects, job definitions, jobs and logs survive a restart,
    the keys too: export lines stay valid) and runs the jobs queued there. Prints the
    endpoint, queue and bucket, and the `export` lines (with the server's own keys: every
    request must be signed with them) that point the AWS CLI, any SDK and `pcr submit /
    status / wait / outputs` at it; `pcr ... --local` finds it without them. It listens on
    127.0.0.1 unless --host and --expose say otherwise, and refuses requests from web pages
    and for other Host names. Jobs run as processes here (`--containers docker|podman`:
    containers) with `AWS_ENDPOINT_URL` set to this endpoint. Ctrl-C, SIGTERM or SIGHUP stop
    it and every job it runs (exit 130, 143 or 129).
    """
    if docker:
        fail(opt.RENAMED_DOCKER, EXIT_USAGE)
    try:
        argv = shlex.split(command) if command else None
    except ValueError as err:
        fail(f"--command: {err}", EXIT_USAGE)
    if command is not None and not argv:
        fail("--command is empty", EXIT_USAGE)
    if not _is_loopback(host) and not expose:
        fail(
            f"--host {host} listens beyond this machine, where anyone who reaches it with the "
            "keys runs commands here: add --expose to do it anyway",
            EXIT_USAGE,
        )
    from pcr_sdk.local import LocalBackend  # noqa: PLC0415 - optional dependency, loaded on use

    data_dir = account_directory(data_dir)
    backend = LocalBackend(
        {image: argv} if argv else None,
        max_parallel=parallel,
        bucket=bucket,
        queue=queue,
        region=region,
        containers=containers.value if containers is not None else None,
        host_access=host_access,
        extra_env=interpreter_path(),
        vcpus=vcpus,
        memory_mib=memory,
        gpus=gpus,
        host=host,
        port=port,
        data_dir=data_dir,
        expose=expose,
        allow_hosts=allow_host or (),
    )
    with cli_errors(), handle_signals():
        try:
            backend.start()
        except OSError as err:
            fail(f"cannot serve on {host}:{port}: {err.strerror or err}")
        except RuntimeError as err:  # the container runtime it names does not answer
            fail(f"the local backend did not start: {err}")
        try:
            _announce(backend, image, argv)
            backend.wait()
        except KeyboardInterrupt as interrupt:
            code = (
                interrupt.exit_code
                if isinstance(interrupt, InterruptedBySignal)
                else EXIT_INTERRUPTED
            )
            typer.echo("stopping: every job still running is killed", err=True)
            backend.close()
            typer.echo("stopped", err=True)
            raise typer.Exit(code) from None
        finally:
            backend.close()
