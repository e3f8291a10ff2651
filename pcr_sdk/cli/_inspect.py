"""`pcr status`, `wait`, `outputs`, `logs` and `cancel`: batches another process submitted."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Final

import typer
from rich.console import Console
from rich.markup import escape

from pcr_sdk._private.aws import JobStatus
from pcr_sdk._private.clients import AwsClients
from pcr_sdk._private.contract import BatchLayout
from pcr_sdk._private.discovery import find_batch_jobs
from pcr_sdk._private.errors import BatchClosedError, aws_call
from pcr_sdk._private.facade import JobSubmitter
from pcr_sdk._private.logs import LogReader
from pcr_sdk._private.models import BatchId, JobResult, JobState, SubmittedJob
from pcr_sdk._private.poller import Poller, job_state
from pcr_sdk._private.progress import SilentProgress
from pcr_sdk._private.registry import BatchRegistry
from pcr_sdk._private.scan import BatchReads
from pcr_sdk.cli import _options as opt
from pcr_sdk.cli._batch import (
    LOG_GROUP,
    MAX_FAILURE_ROWS,
    emit_outputs,
    format_seconds,
    report,
    wait_for,
)
from pcr_sdk.cli._progress import (
    RichProgress,
    counts_table,
    failures_table,
    key_value_table,
    stderr_console,
)
from pcr_sdk.cli._runtime import EXIT_FAILED, EXIT_OK, Runtime, cli_errors, fail, runtime_of
from pcr_sdk.cli._submit import AWS_POLL_SECONDS

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient

MAX_LOG_EVENTS: Final = 10_000
REQUEST_SPACING_MS: Final = 200
DEFAULT_CANCEL_REASON: Final = "cancelled with pcr cancel"


def _poller(clients: AwsClients, runtime: Runtime, poll_seconds: float | None = None) -> Poller:
    return Poller(
        clients.batch,
        polling_interval_seconds=AWS_POLL_SECONDS if poll_seconds is None else poll_seconds,
        request_throttling_milliseconds=REQUEST_SPACING_MS,
        clock=runtime.clock,
        sleep=runtime.sleep,
    )


def _batch_jobs(
    clients: AwsClients, runtime: Runtime, batch_id: str, queue: str, console: Console
) -> list[tuple[SubmittedJob, JobState]]:
    """The batch's jobs with their current states; exit 1 if AWS Batch knows none.

    Array children, which discovery leaves without a state, are described here.
    """
    BatchId.parse(batch_id)  # a malformed id is an input error, before any request
    found = find_batch_jobs(BatchReads(clients.batch), job_queue=queue, batch_id=batch_id)
    if not found:
        fail(
            f"no jobs of batch {batch_id} in queue {queue} "
            "(AWS Batch shows finished jobs for about a day)"
        )
    unknown = [job.job_id for job, state in found if state is None]
    fresh = _poller(clients, runtime).describe(unknown) if unknown else {}
    settled: list[tuple[SubmittedJob, JobState]] = []
    for job, state in found:
        known = state if state is not None else fresh.get(job.job_id)
        if known is not None:
            settled.append((job, known))
    if len(settled) < len(found):
        console.print(
            f"[yellow]warning[/]: AWS Batch did not describe {len(found) - len(settled)} job(s)"
        )
    return settled


def _result(layout: BatchLayout, job: SubmittedJob, state: JobState) -> JobResult:
    return JobResult(
        job_id=job.job_id,
        index=job.index,
        status=state.status,
        status_reason=state.status_reason,
        exit_code=state.exit_code,
        attempts=state.attempts,
        log_stream_name=state.log_stream_name,
        output_key=layout.output_key(job.index),
    )


def _counts_json(counts: Mapping[JobStatus, int]) -> dict[str, int]:
    return {status.value: counts[status] for status in JobStatus if counts.get(status, 0)}


def _print_states(
    console: Console,
    title: str,
    layout: BatchLayout,
    found: Sequence[tuple[SubmittedJob, JobState]],
) -> Counter[JobStatus]:
    counts = Counter(state.status for _, state in found)
    console.print(counts_table(title, counts))
    failed = [_result(layout, job, s) for job, s in found if s.status is JobStatus.FAILED]
    if failed:
        console.print(failures_table(failed[:MAX_FAILURE_ROWS]))
    return counts


def _count_outputs(clients: AwsClients, bucket: str, layout: BatchLayout) -> int:
    paginator = clients.s3.get_paginator("list_objects_v2")
    count = 0
    with aws_call("ListObjectsV2", bucket=bucket):
        for page in paginator.paginate(Bucket=bucket, Prefix=f"{layout.root}/"):
            count += sum(1 for o in page.get("Contents", []) if o["Key"].endswith("/output.json"))
    return count


def status(
    ctx: typer.Context,
    batch_id: opt.BatchIdArg,
    queue: opt.Queue,
    bucket: Annotated[
        str | None,
        typer.Option(
            "--bucket", "-b", help="S3 job bucket: also count the outputs written so far."
        ),
    ] = None,
    region: opt.Region = None,
) -> None:
    """Count a batch's jobs per status (a table on stderr, one JSON line on stdout)."""
    runtime = runtime_of(ctx)
    console = stderr_console()
    with cli_errors(console):
        clients = runtime.aws_clients(region)
        found = _batch_jobs(clients, runtime, batch_id, queue, console)
        layout = BatchLayout(batch_id)
        counts = _print_states(console, f"batch {escape(batch_id)}", layout, found)
        line: dict[str, object] = {
            "batch_id": batch_id,
            "jobs": len(found),
            "counts": _counts_json(counts),
        }
        if bucket:
            outputs = _count_outputs(clients, bucket, layout)
            console.print(f"outputs written: {outputs}/{len(found)}")
            line["outputs"] = outputs
        typer.echo(json.dumps(line, separators=(",", ":")))
    raise typer.Exit(EXIT_OK)


def _attach(
    runtime: Runtime,
    batch_id: str,
    *,
    queue: str,
    bucket: str,
    region: str | None,
    poll_seconds: float,
    progress: RichProgress | SilentProgress,
) -> JobSubmitter:
    submitter = JobSubmitter.attach(
        batch_id,
        job_queue=queue,
        job_bucket=bucket,
        clients=runtime.aws_clients(region),
        polling_interval_seconds=poll_seconds,
        progress=progress,
        clock=runtime.clock,
        sleep=runtime.sleep,
    )
    if not submitter.jobs:
        fail(
            f"no jobs of batch {batch_id} in queue {queue} "
            "(AWS Batch shows finished jobs for about a day)"
        )
    return submitter


def wait(
    ctx: typer.Context,
    batch_id: opt.BatchIdArg,
    queue: opt.Queue,
    bucket: opt.Bucket,
    region: opt.Region = None,
    poll_seconds: opt.PollSeconds = None,
    timeout: opt.WaitTimeout = None,
) -> None:
    """Wait for a submitted batch, then print its outputs like run does.

    Deregisters the batch's job definition once every job has finished. Exit 0 when every
    job succeeded, 1 otherwise.
    """
    runtime = runtime_of(ctx)
    console = stderr_console()
    started = runtime.clock()
    with cli_errors(console):
        progress = RichProgress(console)
        submitter = _attach(
            runtime,
            batch_id,
            queue=queue,
            bucket=bucket,
            region=region,
            poll_seconds=AWS_POLL_SECONDS if poll_seconds is None else poll_seconds,
            progress=progress,
        )
        with progress:
            wait_for(submitter, progress, timeout)
        code = report(submitter, console, seconds=runtime.clock() - started)
    raise typer.Exit(code)


def outputs(
    ctx: typer.Context,
    batch_id: opt.BatchIdArg,
    queue: opt.Queue,
    bucket: opt.Bucket,
    region: opt.Region = None,
) -> None:
    """Print every job's output as one JSON line, in job order (null: none yet, or failed).

    Does not wait. Exit 0 when every job has an output, 1 otherwise.
    """
    runtime = runtime_of(ctx)
    console = stderr_console()
    with cli_errors(console):
        submitter = _attach(
            runtime,
            batch_id,
            queue=queue,
            bucket=bucket,
            region=region,
            poll_seconds=AWS_POLL_SECONDS,
            progress=SilentProgress(),
        )
        missing = emit_outputs(submitter, console)
        console.print(
            key_value_table(
                "outputs",
                [
                    ("batch", batch_id),
                    ("jobs", len(submitter.jobs)),
                    ("with output", len(submitter.jobs) - missing),
                    ("without output", missing),
                ],
            )
        )
    raise typer.Exit(EXIT_OK if missing == 0 else EXIT_FAILED)


def _describe_one(batch: BatchClient, job_id: str) -> JobState:
    with aws_call("DescribeJobs", job_id=job_id):
        details = batch.describe_jobs(jobs=[job_id])["jobs"]
    if not details:
        fail(f"no job {job_id} (AWS Batch shows finished jobs for about a day)")
    return job_state(details[0])


def logs(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(help="The AWS Batch job id.", show_default=False)],
    tail: Annotated[
        int,
        typer.Option("--tail", "-t", min=1, max=MAX_LOG_EVENTS, help="Print the last N lines."),
    ] = 50,
    region: opt.Region = None,
) -> None:
    """Print the last lines a job wrote (CloudWatch Logs group /aws/batch/job)."""
    runtime = runtime_of(ctx)
    console = stderr_console()
    with cli_errors(console):
        clients = runtime.aws_clients(region)
        state = _describe_one(clients.batch, job_id)
        stream = state.log_stream_name
        if not stream:
            fail(f"job {job_id} is {state.status.value} and has no log stream (not started yet?)")
        lines = LogReader(clients.logs).tail(stream, tail)
        for line in lines:
            typer.echo(line.rstrip("\n"))
        console.print(
            f"[dim]{len(lines)} line(s) of {LOG_GROUP}/{escape(stream)}; "
            f"job {escape(job_id)} is {state.status.value}[/]"
        )
    raise typer.Exit(EXIT_OK)


def cancel(
    ctx: typer.Context,
    batch_id: opt.BatchIdArg,
    queue: opt.Queue,
    reason: Annotated[
        str, typer.Option("--reason", help="Reason recorded on every terminated job.")
    ] = DEFAULT_CANCEL_REASON,
    region: opt.Region = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait until every job of the batch has ended.")
    ] = False,
    poll_seconds: opt.PollSeconds = None,
) -> None:
    """Terminate every unfinished job of a batch, deregister its job definition, report states.

    Terminating stops SUBMITTED to RUNNING jobs alike; they end FAILED with the reason.
    """
    runtime = runtime_of(ctx)
    console = stderr_console()
    started = runtime.clock()
    with cli_errors(console):
        clients = runtime.aws_clients(region)
        found = _batch_jobs(clients, runtime, batch_id, queue, console)
        unfinished = [job for job, state in found if not state.status.is_finished]
        # Terminating an array job's parent terminates its children.
        targets = list(dict.fromkeys(job.array_id or job.job_id for job in unfinished))
        for target in targets:
            with aws_call("TerminateJob", job_id=target, job_queue=queue):
                clients.batch.terminate_job(jobId=target, reason=reason)
        console.print(f"terminated {len(unfinished)} of {len(found)} job(s)")
        if _deregister(clients.batch, batch_id):
            console.print(f"deregistered job definition {escape(batch_id)}")
        states = {job.job_id: state for job, state in found}
        if unfinished:
            poller = _poller(clients, runtime, poll_seconds)
            ids = [job.job_id for job in unfinished]
            if wait:
                arrays = {job.array_id for job in unfinished if job.array_id}
                states.update(poller.wait(ids, arrays=arrays, known=states))
            else:
                states.update(poller.describe(ids))
        final = [(job, states[job.job_id]) for job, _ in found]
        counts = _print_states(console, f"batch {escape(batch_id)}", BatchLayout(batch_id), final)
        console.print(f"wall time {format_seconds(runtime.clock() - started)}")
        typer.echo(
            json.dumps(
                {
                    "batch_id": batch_id,
                    "jobs": len(found),
                    "terminated": len(unfinished),
                    "counts": _counts_json(counts),
                },
                separators=(",", ":"),
            )
        )
    raise typer.Exit(EXIT_OK)


def _deregister(batch: BatchClient, batch_id: str) -> bool:
    try:
        registry = BatchRegistry.find(batch, BatchId.parse(batch_id))
    except BatchClosedError:
        return False
    return registry.deregister()
