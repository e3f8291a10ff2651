"""`--local` on the commands that follow a batch: where the local account is, and reaching it.

The account is `--data-dir`, else `PCR_LOCAL_DIR`, else the user's state directory
(`LocalAccount.default_path()`); `PCR_LOCAL_DIR` alone never means `--local`. A follow-up
command joins the process holding the account (a `pcr run --local` still running, `pcr local
serve`, a `LocalBackend` kept there) over HTTP, or opens the account itself when nobody holds
it. `pcr run --local` and `pcr demo` hold it for their batch, waiting for a holder to end.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Final

import typer
from rich.console import Console
from rich.markup import escape

from pcr_sdk import AwsClients
from pcr_sdk.cli._runtime import (
    EXIT_USAGE,
    LocalEnvironment,
    LocalOptions,
    Runtime,
    fail,
    given,
)

ENV_LOCAL_DIR: Final = "PCR_LOCAL_DIR"
WAIT_SECONDS: Final = 0.5

Local = Annotated[
    bool,
    typer.Option(
        "--local",
        help=(
            "A batch of the local account (pcr run --local, pcr demo, pcr local serve): joins "
            "the process holding it, or opens it here."
        ),
    ),
]
DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar=ENV_LOCAL_DIR,
        file_okay=False,
        help=(
            "With --local: the local account's directory (default: the user's state "
            "directory, e.g. ~/.local/state/pcr-sdk/local)."
        ),
        show_default=False,
    ),
]


def account_directory(data_dir: Path | None) -> Path:
    """`--data-dir` or `PCR_LOCAL_DIR`, else the user's state directory."""
    if data_dir is not None:
        return data_dir
    from pcr_sdk.local import LocalAccount  # noqa: PLC0415 - optional dependency, loaded on use

    return LocalAccount.default_path()


def refuse_local_only(ctx: typer.Context, data_dir: Path | None) -> None:
    """Without --local, `--data-dir` on the command line is a mistake (PCR_LOCAL_DIR is not)."""
    if given(ctx, "data_dir", None if data_dir is None else str(data_dir)) is not None:
        fail("--data-dir needs --local", EXIT_USAGE)


@dataclass(frozen=True)
class Target:
    """Where a follow-up command finds its batch: clients, queue, bucket."""

    clients: AwsClients
    queue: str
    bucket: str | None
    local: bool
    not_found: str = "(AWS Batch shows finished jobs for about a day)"
    """Said after "no jobs of batch ..."."""
    runs_here: bool = False
    """This process holds the local account and runs its jobs (nobody else did)."""


def _aws_only(ctx: typer.Context, **values: str | None) -> None:
    flags = [f"--{name}" for name, value in values.items() if given(ctx, name, value)]
    if flags:
        verb = "is" if len(flags) == 1 else "are"
        fail(f"{', '.join(flags)} {verb} for AWS; drop it with --local", EXIT_USAGE)


@contextmanager
def follow(
    ctx: typer.Context,
    runtime: Runtime,
    console: Console,
    *,
    local: bool,
    data_dir: Path | None,
    queue: str | None,
    bucket: str | None = None,
    region: str | None = None,
    need_queue: bool = True,
    need_bucket: bool = False,
    run_jobs: bool = False,
) -> Iterator[Target]:
    """The batch's whereabouts: the local account (`--local`) or AWS.

    On AWS the queue (and with `need_bucket` the bucket) must be given; with --local they come
    from the account, and `run_jobs` asks for a holder that runs jobs.
    """
    if local:
        _aws_only(ctx, queue=queue, bucket=bucket, region=region)
        directory = account_directory(data_dir)

        def waiting(holder: Any) -> None:
            who = (
                "another process" if holder is None else f"{holder.program} (process {holder.pid})"
            )
            console.print(
                f"waiting for {escape(who)} to let go of the local account in "
                f"{escape(str(directory))} ..."
            )

        with runtime.local_account(directory, run_jobs, waiting) as account:
            holder = account.holder
            if holder is not None:
                console.print(
                    f"[dim]the local account is held by {escape(holder.program)} "
                    f"(process {holder.pid}): asking it[/]"
                )
            yield Target(
                clients=account.clients,
                queue=account.queue,
                bucket=account.bucket,
                local=True,
                not_found=f"in the local account {directory} (pcr local ls lists its batches)",
                runs_here=run_jobs and holder is None,
            )
        return
    refuse_local_only(ctx, data_dir)
    missing = [
        flag
        for flag, value, needed in (
            ("--queue", queue, need_queue),
            ("--bucket", bucket, need_bucket),
        )
        if needed and not value
    ]
    if missing:
        fail(
            f"Missing option {' and '.join(repr(m) for m in missing)} (or --local for a batch "
            "of the local account)",
            EXIT_USAGE,
        )
    clients = runtime.aws_clients(region)
    yield Target(clients=clients, queue=queue or "", bucket=bucket, local=False)


def local_options(
    options: LocalOptions, data_dir: Path | None, *, image: str | None
) -> LocalOptions:
    """`options` with the account's directory, the command for `image` only."""
    return replace(options, data_dir=account_directory(data_dir), image=image)


@contextmanager
def hold(runtime: Runtime, options: LocalOptions, console: Console) -> Iterator[LocalEnvironment]:
    """The local backend of `pcr run --local` and `pcr demo`: it holds the account for their
    batch, after waiting for the process that holds it now (if any) to let go; one line and
    exit 1 if it cannot start."""
    from pcr_sdk.local import AccountInUseError  # noqa: PLC0415 - optional dependency

    told = False
    while True:
        stack = ExitStack()
        try:
            backend = stack.enter_context(runtime.local_backend(options))
        except AccountInUseError as err:
            if not told:
                holder = err.holder
                who = (
                    "another process"
                    if holder is None
                    else f"{holder.program} (process {holder.pid})"
                )
                console.print(
                    f"waiting for {escape(who)} to let go of the local account in "
                    f"{escape(str(err.path))} (Ctrl-C gives up; --data-dir picks another) ..."
                )
                told = True
            runtime.sleep(WAIT_SECONDS)
            continue
        except RuntimeError as err:  # e.g. the container runtime it names does not answer
            fail(f"the local backend did not start: {err}")
        with stack:
            yield backend
        return
