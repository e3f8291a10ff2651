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


def _offer_to_break(submitter: JobSubmitter) -> None:
    """Show the batch's rerun lease and break it if the user says so; exit 1 if not."""
    lease = submitter.rerun_lease()
    if lease is None or not lease.held:
        typer.echo("the rerun lease is not held: nothing to break", err=True)
        return
    until = f"{lease.expires_at:%Y-%m-%d %H:%M:%S} UTC (S3's clock)"
    state = (
        f"it ran out at {until}: its holder stopped renewing it"
        if lease.expired
        else f"it runs until {until} and is still renewed: its holder may be alive"
    )
    typer.echo(f"the rerun lease of {submitter.get_batch_id()} is held by {lease.holder}; {state}",
               err=True)  # fmt: skip
    if not typer.confirm("break it?", default=False, err=True):
        _fail("the rerun lease was not broken", 1)
    if not submitter.break_rerun_lease(lease):
        _fail("the rerun lease changed while you were asked (renewed or taken): not broken", 1)
    typer.echo("broke the rerun lease", err=True)


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
    break_lease: Annotated[
        bool,
        typer.Option(
            "--break-lease",
            help="If another process holds the batch's rerun lease (one that died, say), show "
            "it and ask whether to break it, then rerun.",
        ),
    ] = False,
) -> None:
    """Rerun a batch's failed jobs at their indexes (one JSON line with the new ids on stdout).

    Jobs that failed because a dependency failed rerun with it. A closed batch reopens: end it
    with --wait here, or with `pcr wait` later. One process reruns a batch at a time: this one
    takes the batch's rerun lease, or fails naming who holds it and until when (a live holder
    renews it; --break-lease breaks a stale one after asking). Exit 0 when every job of the
    batch succeeded (with --wait) or the reruns went out, 1 when some failed again (or the
    lease is held), 2 on bad input.
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
        if break_lease:
            _offer_to_break(submitter)
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
