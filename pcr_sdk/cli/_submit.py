"""`pcr run` and `pcr submit`: a JSONL file of inputs becomes a batch, locally or on AWS."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Annotated, Any, Final

import typer
from rich.console import Console
from rich.markup import escape

from pcr_sdk._private.clients import AwsClients
from pcr_sdk.cli import _options as opt
from pcr_sdk.cli._batch import (
    BatchSettings,
    new_submitter,
    read_jobs,
    report,
    submit_all,
    wait_for,
)
from pcr_sdk.cli._progress import RichProgress, stderr_console
from pcr_sdk.cli._runtime import (
    EXIT_OK,
    EXIT_USAGE,
    LocalOptions,
    Runtime,
    cli_errors,
    fail,
    runtime_of,
)

AWS_POLL_SECONDS: Final = 10.0
LOCAL_POLL_SECONDS: Final = 0.2
LOCAL_IMAGE: Final = "pcr-local"


def _aws_settings(
    name: str,
    queue: str,
    bucket: str,
    image: str,
    memory: int,
    vcpus: int,
    gpus: int,
    timeout_hours: float,
    poll_seconds: float | None,
) -> BatchSettings:
    """The settings of a batch on AWS (polling every AWS_POLL_SECONDS unless told)."""
    return BatchSettings(
        name=name,
        queue=queue,
        bucket=bucket,
        image=image,
        memory_mib=memory,
        vcpus=vcpus,
        gpus=gpus,
        timeout_hours=timeout_hours,
        poll_seconds=AWS_POLL_SECONDS if poll_seconds is None else poll_seconds,
    )


def _require_aws_target(
    queue: str | None, bucket: str | None, image: str | None
) -> tuple[str, str, str]:
    """Queue, bucket and image, or exit 2 naming the missing flags."""
    if queue and bucket and image:
        return queue, bucket, image
    missing = [
        flag
        for flag, value in (("--queue", queue), ("--bucket", bucket), ("--image", image))
        if not value
    ]
    fail(f"{', '.join(missing)} required to run on AWS (or pass --local to run here)", EXIT_USAGE)


def run_batch(
    settings: BatchSettings,
    clients: AwsClients,
    inputs: Sequence[Any],
    *,
    console: Console,
    runtime: Runtime,
    started: float,
    timeout: float | None,
    on_aws: bool,
) -> int:
    """Submit, wait, print outputs and summary; deregister the job definition however it ends."""
    progress = RichProgress(console)
    submitter = new_submitter(settings, clients, progress, runtime)
    with submitter:
        try:
            with progress:
                submit_all(submitter, inputs, progress)
                wait_for(submitter, progress, timeout)
        except BaseException:
            if on_aws and submitter.jobs:
                console.print(
                    f"jobs of batch {escape(submitter.get_batch_id())} may still be running; "
                    f"stop them with: pcr cancel {escape(submitter.get_batch_id())} "
                    f"--queue {escape(settings.queue)}"
                )
            raise
        return report(submitter, console, seconds=runtime.clock() - started)


def run(
    ctx: typer.Context,
    jobs: opt.JobsFile,
    local: Annotated[
        bool,
        typer.Option(
            "--local", help="Run on the embedded local backend: no AWS account, loopback only."
        ),
    ] = False,
    command: Annotated[
        str | None,
        typer.Option(
            "--command",
            "-c",
            help='With --local: the worker command, e.g. "python worker.py" (shell-quoted).',
            show_default=False,
        ),
    ] = None,
    parallel: Annotated[
        int | None,
        typer.Option(
            "--parallel",
            "-p",
            min=1,
            help="With --local: jobs running at once (default: CPU count).",
            show_default=False,
        ),
    ] = None,
    docker: Annotated[
        bool,
        typer.Option("--docker", help="With --local: run each job as `docker run IMAGE`."),
    ] = False,
    name: opt.Name = "pcr-run",
    queue: opt.OptionalQueue = None,
    bucket: opt.OptionalBucket = None,
    image: opt.OptionalImage = None,
    region: opt.Region = None,
    memory: opt.Memory = 1024,
    vcpus: opt.Vcpus = 1,
    gpus: opt.Gpus = 0,
    timeout_hours: opt.TimeoutHours = 20,
    poll_seconds: opt.PollSeconds = None,
    timeout: opt.WaitTimeout = None,
) -> None:
    """Run one job per JSONL line, wait, print each output as a JSON line in input order.

    Failed jobs print null. Progress and a summary go to stderr. Exit 0 when every job
    succeeded, 1 when any failed, 2 on bad usage or input. Without --local it runs on AWS
    and needs --queue, --bucket and --image.
    """
    runtime = runtime_of(ctx)
    console = stderr_console()
    started = runtime.clock()
    with cli_errors(console):
        if local:
            if queue or bucket or region:
                fail("--queue, --bucket and --region are for AWS; drop them with --local", 2)
            if not command and not docker:
                fail('--local needs --command "python worker.py" (or --docker --image IMG)', 2)
            if docker and not image:
                fail("--docker needs --image", EXIT_USAGE)
            try:
                argv = shlex.split(command) if command else None
            except ValueError as err:
                fail(f"--command: {err}", EXIT_USAGE)
            if command is not None and not argv:
                fail("--command is empty", EXIT_USAGE)
            inputs = read_jobs(jobs)
            options = LocalOptions(command=argv, max_parallel=parallel, docker=docker)
            with runtime.local_backend(options) as backend:
                settings = BatchSettings(
                    name=name,
                    queue=backend.queue,
                    bucket=backend.bucket,
                    image=image or LOCAL_IMAGE,
                    memory_mib=memory,
                    vcpus=vcpus,
                    gpus=gpus,
                    timeout_hours=timeout_hours,
                    poll_seconds=LOCAL_POLL_SECONDS if poll_seconds is None else poll_seconds,
                    throttle_ms=0,
                )
                code = run_batch(
                    settings,
                    backend.clients,
                    inputs,
                    console=console,
                    runtime=runtime,
                    started=started,
                    timeout=timeout,
                    on_aws=False,
                )
        else:
            if command or parallel is not None or docker:
                fail("--command, --parallel and --docker need --local", EXIT_USAGE)
            aws_queue, aws_bucket, aws_image = _require_aws_target(queue, bucket, image)
            inputs = read_jobs(jobs)
            settings = _aws_settings(
                name, aws_queue, aws_bucket, aws_image, memory, vcpus, gpus, timeout_hours,
                poll_seconds,
            )  # fmt: skip
            code = run_batch(
                settings,
                runtime.aws_clients(region),
                inputs,
                console=console,
                runtime=runtime,
                started=started,
                timeout=timeout,
                on_aws=True,
            )
    raise typer.Exit(code)


def submit(
    ctx: typer.Context,
    jobs: opt.JobsFile,
    queue: opt.Queue,
    bucket: opt.Bucket,
    image: opt.Image,
    name: opt.Name = "pcr-batch",
    region: opt.Region = None,
    memory: opt.Memory = 1024,
    vcpus: opt.Vcpus = 1,
    gpus: opt.Gpus = 0,
    timeout_hours: opt.TimeoutHours = 20,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for the batch and print outputs, like run.")
    ] = False,
    poll_seconds: opt.PollSeconds = None,
    timeout: opt.WaitTimeout = None,
) -> None:
    """Submit one job per JSONL line to AWS Batch and print the batch id on stdout.

    The job definition stays registered for the jobs; `pcr wait BATCH_ID` deregisters it when
    the batch is done. With --wait it behaves like `pcr run`.
    """
    runtime = runtime_of(ctx)
    console = stderr_console()
    started = runtime.clock()
    with cli_errors(console):
        inputs = read_jobs(jobs)
        settings = _aws_settings(
            name, queue, bucket, image, memory, vcpus, gpus, timeout_hours, poll_seconds
        )
        clients = runtime.aws_clients(region)
        if wait:
            code = run_batch(
                settings,
                clients,
                inputs,
                console=console,
                runtime=runtime,
                started=started,
                timeout=timeout,
                on_aws=True,
            )
            raise typer.Exit(code)
        progress = RichProgress(console)
        submitter = new_submitter(settings, clients, progress, runtime)
        try:
            with progress:
                submit_all(submitter, inputs, progress)
        except BaseException:
            if submitter.jobs:
                console.print(
                    f"{len(submitter.jobs)} job(s) of batch "
                    f"{escape(submitter.get_batch_id())} were submitted before the error"
                )
            else:
                submitter.close()
            raise
        batch_id = submitter.get_batch_id()
        typer.echo(batch_id)
        console.print(
            f"submitted {len(submitter.jobs)} job(s); follow them with:\n"
            f"  pcr wait {escape(batch_id)} --queue {escape(queue)} --bucket {escape(bucket)}"
        )
    raise typer.Exit(EXIT_OK)
