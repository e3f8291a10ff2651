"""`pcr retry`: rerun a batch's failed jobs in place (`JobSubmitter.resubmit_failed`).

Uses pcr-sdk's public API only. Tests inject clients, clock and sleep through typer's context
object (anything with `aws_clients(region)`, `clock` and `sleep`, like the CLI's `Runtime`).
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from typing import Annotated, Any, Final, NoReturn

import boto3
import typer

from pcr_sdk import (
    AwsClients,
    FailureKind,
    JobStatus,
    JobSubmitter,
    PcrError,
    PcrInputError,
    PrintProgress,
    SilentProgress,
)
from pcr_sdk.advanced import Seams
from pcr_sdk.cli._local import (
    LOCAL_POLL_SECONDS,
    DataDir,
    Local,
    account_directory,
    refuse_local_only,
)
from pcr_sdk.cli._runtime import connect_local_account

POLL_SECONDS: Final = 10.0
KINDS: Final = ", ".join(k.value for k in FailureKind if k is not FailureKind.DEPENDENCY_FAILED)


def _clients(obj: Any, region: str | None) -> AwsClients:
    factory = getattr(obj, "aws_clients", None)
    if callable(factory):
        clients: AwsClients = factory(region)
        return clients
    return AwsClients.from_session(boto3.Session(region_name=region))


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"pcr: error: {message}", err=True)
    raise typer.Exit(code)


def _waiting(holder: Any) -> None:
    who = "another process" if holder is None else f"{holder.program} (process {holder.pid})"
    typer.echo(f"waiting for {who} to let go of the local account ...", err=True)


def retry(
    ctx: typer.Context,
    batch_id: Annotated[str, typer.Argument(help="The batch id (<name>_<uuid>).")],
    queue: Annotated[
        str | None, typer.Option("--queue", "-q", help="AWS Batch job queue (AWS only).")
    ] = None,
    bucket: Annotated[
        str | None, typer.Option("--bucket", "-b", help="S3 job bucket (AWS only).")
    ] = None,
    kind: Annotated[
        list[str] | None,
        typer.Option("--kind", "-k", help=f"Only failures of this kind (repeatable): {KINDS}."),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the reruns, then report.")] = False,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", min=0, help="With --wait: give up after this many seconds."),
    ] = None,
    poll_seconds: Annotated[
        float | None,
        typer.Option(
            "--poll-seconds",
            min=0,
            help="Seconds between status polls (default: 10 on AWS, 0.2 locally).",
            show_default=False,
        ),
    ] = None,
    region: Annotated[str | None, typer.Option("--region", help="AWS region.")] = None,
    local: Local = False,
    data_dir: DataDir = None,
) -> None:
    """Rerun a batch's failed jobs at their indexes (one JSON line with the new ids on stdout).

    Jobs that failed because a dependency failed rerun with it. A closed batch reopens: end it
    with --wait here, or with `pcr wait` later. With --local the batch is one of the local
    account: the reruns go to the process holding it, or run here with the settings stored
    in the account (command, working directory, environment), waited for. Exit 0 when every
    job of the batch succeeded (with --wait) or the reruns went out, 1 when some failed
    again, 2 on bad input.
    """
    obj = ctx.obj
    try:
        kinds = [FailureKind(k) for k in kind] if kind else None
    except ValueError as err:
        _fail(f"{err}; the kinds: {KINDS}", 2)
    if not local:
        refuse_local_only(ctx, data_dir)
        if not queue or not bucket:
            missing = " and ".join(
                f"'--{n}'" for n, v in (("queue", queue), ("bucket", bucket)) if not v
            )
            _fail(f"Missing option {missing} (or --local for a batch of the local account)", 2)
        clients = _clients(obj, region)
        line, code = _rerun(
            obj, batch_id, queue=queue, bucket=bucket, clients=clients, kinds=kinds, wait=wait,
            timeout=timeout, poll_seconds=POLL_SECONDS if poll_seconds is None else poll_seconds,
        )  # fmt: skip
    else:
        if queue or bucket or region:
            _fail("--queue, --bucket and --region are for AWS; drop them with --local", 2)
        connect = getattr(obj, "local_account", connect_local_account)
        try:
            with connect(account_directory(data_dir), True, _waiting) as account:
                if account.holder is None and not wait:
                    typer.echo(
                        "no process holds the local account: the reruns run here, and this "
                        "waits for them (with `pcr local serve` running, they run there)",
                        err=True,
                    )
                    wait = True
                line, code = _rerun(
                    obj, batch_id, queue=account.queue, bucket=account.bucket,
                    clients=account.clients, kinds=kinds, wait=wait, timeout=timeout,
                    poll_seconds=LOCAL_POLL_SECONDS if poll_seconds is None else poll_seconds,
                )  # fmt: skip
        except PcrError as err:
            _fail(str(err), 2 if isinstance(err, PcrInputError) else 1)
    typer.echo(json.dumps(line, separators=(",", ":")))
    raise typer.Exit(code)


def _rerun(
    obj: Any,
    batch_id: str,
    *,
    queue: str,
    bucket: str,
    clients: AwsClients,
    kinds: list[FailureKind] | None,
    wait: bool,
    timeout: float | None,
    poll_seconds: float,
) -> tuple[dict[str, object], int]:
    """Resubmit the failed jobs (and wait, with `wait`): the JSON line and the exit code."""
    clock = getattr(obj, "clock", time.monotonic)
    sleep = getattr(obj, "sleep", time.sleep)
    try:
        progress = PrintProgress(sys.stderr, clock=clock) if wait else SilentProgress()
        submitter = JobSubmitter.attach(
            batch_id,
            job_queue=queue,
            job_bucket=bucket,
            clients=clients,
            polling_interval_seconds=poll_seconds,
            progress=progress,
            seams=Seams(clock=clock, sleep=sleep),
        )
        ids = submitter.resubmit_failed(kinds=kinds)
        typer.echo(f"resubmitted {len(ids)} job(s) of {batch_id}", err=True)
        line: dict[str, object] = {"batch_id": batch_id, "resubmitted": ids}
        code = 0
        if wait:
            submitter.wait_until_jobs_finished(timeout=timeout)
            counts = Counter(r.status for r in submitter.get_results())
            line["counts"] = {s.value: counts[s] for s in JobStatus if counts.get(s)}
            code = 0 if counts.get(JobStatus.SUCCEEDED, 0) == len(submitter.jobs) else 1
    except PcrInputError as err:
        _fail(str(err), 2)
    except PcrError as err:
        _fail(str(err), 1)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    return line, code
