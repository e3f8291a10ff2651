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


def retry(
    ctx: typer.Context,
    batch_id: Annotated[str, typer.Argument(help="The batch id (<name>_<uuid>).")],
    queue: Annotated[str, typer.Option("--queue", "-q", help="AWS Batch job queue.")],
    bucket: Annotated[str, typer.Option("--bucket", "-b", help="S3 job bucket.")],
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
        float, typer.Option("--poll-seconds", min=0, help="Seconds between status polls.")
    ] = POLL_SECONDS,
    region: Annotated[str | None, typer.Option("--region", help="AWS region.")] = None,
) -> None:
    """Rerun a batch's failed jobs at their indexes (one JSON line with the new ids on stdout).

    Jobs that failed because a dependency failed rerun with it. A closed batch reopens: end it
    with --wait here, or with `pcr wait` later. Exit 0 when every job of the batch succeeded
    (with --wait) or the reruns went out, 1 when some failed again, 2 on bad input.
    """
    obj = ctx.obj
    clock = getattr(obj, "clock", time.monotonic)
    sleep = getattr(obj, "sleep", time.sleep)
    try:
        kinds = [FailureKind(k) for k in kind] if kind else None
    except ValueError as err:
        _fail(f"{err}; the kinds: {KINDS}", 2)
    try:
        progress = PrintProgress(sys.stderr, clock=clock) if wait else SilentProgress()
        submitter = JobSubmitter.attach(
            batch_id,
            job_queue=queue,
            job_bucket=bucket,
            clients=_clients(obj, region),
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
    typer.echo(json.dumps(line, separators=(",", ":")))
    raise typer.Exit(code)
