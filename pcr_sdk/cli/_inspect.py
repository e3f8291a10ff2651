"""`pcr status`, `wait`, `outputs`, `logs` and `cancel`: batches another process submitted.

`status` and `cancel` read the batch through the read-only `BatchStatus` view (no bucket, a
few Batch calls per 100 jobs); `wait` and `outputs` attach a `JobSubmitter` (which also reads
the batch's manifest in S3). Every Batch call waits for the command's governor.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Final

import typer
from rich.console import Console
from rich.markup import escape

from pcr_sdk import (
    AwsClients,
    BatchId,
    BatchLayout,
    BatchStatus,
    JobStatus,
    JobSubmitter,
    ProgressReporter,
    RateGovernor,
    RerunLease,
    SilentProgress,
    handle_signals,
)
from pcr_sdk.advanced import BatchRegistry, LogReader, Poller
from pcr_sdk.cli import _options as opt
from pcr_sdk.cli._batch import (
    MAX_FAILURE_ROWS,
    conclude,
    emit_outputs,
    format_seconds,
    wait_only,
)
from pcr_sdk.cli._escape import terminal_safe
from pcr_sdk.cli._local import DataDir, Local, follow
from pcr_sdk.cli._progress import (
    batch_progress,
    counts_table,
    failures_table,
    key_value_table,
    stderr_console,
)
from pcr_sdk.cli._runtime import (
    EXIT_FAILED,
    EXIT_OK,
    Runtime,
    cli_errors,
    fail,
    runtime_of,
)

MAX_LOG_EVENTS: Final = 10_000
DEFAULT_CANCEL_REASON: Final = "cancelled with pcr cancel"
NOT_FOUND: Final = "(AWS Batch shows finished jobs for about a day)"

WaitTimeout = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        min=0,
        help=(
            "Stop waiting after this many seconds: print the outputs known so far (null for "
            "the rest) and exit 124; the jobs keep running."
        ),
        show_default=False,
    ),
]


def _counts_json(counts: Mapping[JobStatus, int]) -> dict[str, int]:
    return {status.value: counts[status] for status in JobStatus if counts.get(status, 0)}


def fetch_view(
    runtime: Runtime,
    clients: AwsClients,
    governor: RateGovernor,
    batch_id: str,
    queue: str,
    not_found: str = NOT_FOUND,
    bucket: str | None = None,
) -> BatchStatus:
    """The batch as AWS Batch shows it now (with `bucket`, its rerun lease too); exit 1 if it
    shows no job of it."""
    view = BatchStatus.fetch(
        batch_id,
        job_queue=queue,
        clients=clients,
        governor=governor,
        seams=runtime.seams,
        job_bucket=bucket,
    )
    if not view.jobs:
        fail(f"no jobs of batch {batch_id} in queue {queue} {not_found}")
    return view


def describe_lease(lease: RerunLease | None) -> str:
    """One line on a batch's rerun lease: who holds it, until when (S3's clock)."""
    if lease is None or not lease.held:
        return "not held (no process reruns the batch)"
    until = f"{lease.expires_at:%Y-%m-%d %H:%M:%S} UTC"
    if lease.expired:
        return f"held by {lease.holder}, ran out at {until}: stale (pcr retry --break-lease)"
    return f"held by {lease.holder} until {until} (S3's clock), unless renewed"


def _print_view(console: Console, view: BatchStatus) -> None:
    console.print(f"batch {escape(view.batch_id)} in queue {escape(view.job_queue)}")
    console.print(counts_table("jobs by status", view.counts))
    failed = [r for r in view.results if r.status is JobStatus.FAILED]
    if failed:
        table = failures_table(failed[:MAX_FAILURE_ROWS])
        if len(failed) > MAX_FAILURE_ROWS:
            table.caption = f"and {len(failed) - MAX_FAILURE_ROWS} more"
        console.print(table)


def _count_outputs(clients: AwsClients, bucket: str, batch_id: str) -> int:
    prefix = f"{BatchLayout(batch_id).root}/"
    count = 0
    for page in clients.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        count += sum(1 for o in page.get("Contents", []) if o["Key"].endswith("/output.json"))
    return count


def status(
    ctx: typer.Context,
    batch_id: opt.BatchIdArg,
    queue: opt.OptionalQueue = None,
    bucket: Annotated[
        str | None,
        typer.Option(
            "--bucket",
            "-b",
            envvar=opt.ENV_BUCKET,
            help=(
                "S3 job bucket: also count the outputs written so far, and show the rerun lease "
                "(--local: always)."
            ),
        ),
    ] = None,
    region: opt.Region = None,
    local: Local = False,
    data_dir: DataDir = None,
) -> None:
    """Count a batch's jobs per status (tables on stderr, one JSON line on stdout).

    On AWS it needs --queue (or PCR_QUEUE); with --local it reads the local account.
    """
    runtime = runtime_of(ctx)
    console = stderr_console()
    with (
        cli_errors(console),
        follow(ctx, runtime, console, local=local, data_dir=data_dir, queue=queue,
               bucket=bucket, region=region) as target,
    ):  # fmt: skip
        clients = target.clients
        bucket = target.bucket
        view = fetch_view(
            runtime, clients, runtime.governor(), batch_id, target.queue, target.not_found,
            bucket,
        )  # fmt: skip
        _print_view(console, view)
        active = "ACTIVE (takes jobs)" if view.definition_active else "deregistered"
        console.print(f"job definition: {active}")
        lease = view.rerun_lease
        line: dict[str, object] = {
            "batch_id": view.batch_id,
            "jobs": len(view.jobs),
            "counts": _counts_json(view.counts),
        }
        if bucket:
            outputs = _count_outputs(clients, bucket, view.batch_id)
            console.print(f"outputs written: {outputs}/{len(view.jobs)}")
            line["outputs"] = outputs
            console.print(f"rerun lease: {escape(describe_lease(lease))}")
            if lease is not None and lease.held:
                line["rerun_lease"] = {
                    "holder": lease.holder,
                    "expires_at": lease.expires_at.isoformat(),
                    "in_force": lease.in_force,
                }
        typer.echo(json.dumps(line, separators=(",", ":")))
    raise typer.Exit(EXIT_OK)


def attach_batch(
    runtime: Runtime,
    batch_id: str,
    *,
    queue: str,
    bucket: str,
    clients: AwsClients,
    poll_seconds: float,
    progress: ProgressReporter,
    not_found: str,
) -> JobSubmitter:
    """The batch, attached (its manifest read); exit 1 if AWS Batch shows no job of it."""
    submitter = JobSubmitter.attach(
        batch_id,
        job_queue=queue,
        job_bucket=bucket,
        clients=clients,
        governor=runtime.governor(),
        polling_interval_seconds=poll_seconds,
        progress=progress,
        seams=runtime.seams,
    )
    if not submitter.jobs:
        fail(f"no jobs of batch {batch_id} in queue {queue} {not_found}")
    return submitter


def wait(
    ctx: typer.Context,
    batch_id: opt.BatchIdArg,
    queue: opt.OptionalQueue = None,
    bucket: opt.OptionalBucket = None,
    region: opt.Region = None,
    poll_seconds: opt.PollSeconds = None,
    timeout: WaitTimeout = None,
    local: Local = False,
    data_dir: DataDir = None,
) -> None:
    """Wait for a submitted batch, then print its outputs like run does.

    On AWS it needs --queue and --bucket (or PCR_QUEUE, PCR_BUCKET); with --local it waits
    for a batch of the local account (running its queued jobs if nobody else does). It follows
    the batch until it is over: every job finished, the ones other processes add while it waits
    included, and nobody may submit any more. A process that may submit (the one that started
    the batch, one rerunning it) keeps a session in the batch's manifest; the batch is over once
    each has closed its session (`pcr submit` returned, its wait ended, it closed) or stopped
    renewing it for 10 minutes (it died). Then the job definition is deregistered, once, by
    whoever sees that first; never while a process may still submit. It only watches: Ctrl-C,
    SIGTERM or SIGHUP detach and leave the jobs running (exit 130, 143 or 129; it prints how to
    resume). Exit 0 when every job succeeded, 1 otherwise, 124 when --timeout ran out.
    """
    runtime = runtime_of(ctx)
    console = stderr_console()
    started = runtime.clock()
    with (
        cli_errors(console),
        handle_signals(),
        follow(ctx, runtime, console, local=local, data_dir=data_dir, queue=queue,
               bucket=bucket, region=region, need_bucket=True, run_jobs=True) as target,
    ):  # fmt: skip
        progress = batch_progress(console, clock=runtime.clock)
        default_poll = opt.LOCAL_POLL_SECONDS if target.local else opt.AWS_POLL_SECONDS
        submitter = attach_batch(
            runtime,
            batch_id,
            queue=target.queue,
            bucket=str(target.bucket),
            clients=target.clients,
            poll_seconds=default_poll if poll_seconds is None else poll_seconds,
            progress=progress,
            not_found=target.not_found,
        )
        console.print(f"batch {escape(batch_id)}: {len(submitter.jobs)} job(s)")
        ending = wait_only(submitter, progress, timeout=timeout)
        resume = (
            f"pcr wait {escape(batch_id)} --local"
            if target.local
            else f"pcr wait {escape(batch_id)} --queue {escape(target.queue)} "
            f"--bucket {escape(str(target.bucket))}"
        )
        if ending.signum is not None:
            console.print(
                f"detached ({ending.signal_name}): the jobs keep running; resume with: {resume}"
            )
            raise typer.Exit(128 + ending.signum)
        if ending.timeout is not None:
            console.print(
                f"gave up waiting (--timeout): {len(ending.timeout.unfinished)} job(s) keep "
                f"running; resume with: {resume}"
            )
        code = conclude(
            submitter,
            console,
            ending,
            seconds=runtime.clock() - started,
            count=None,
            local=False,
        )
    raise typer.Exit(code)


def outputs(
    ctx: typer.Context,
    batch_id: opt.BatchIdArg,
    queue: opt.OptionalQueue = None,
    bucket: opt.OptionalBucket = None,
    region: opt.Region = None,
    local: Local = False,
    data_dir: DataDir = None,
) -> None:
    """Print every job's output as one JSON line, in job order (null: none yet, or failed).

    On AWS it needs --queue and --bucket (or PCR_QUEUE, PCR_BUCKET); with --local it reads
    the local account. Does not wait. Exit 0 when every job has an output, 1 otherwise.
    """
    runtime = runtime_of(ctx)
    console = stderr_console()
    with (
        cli_errors(console),
        follow(ctx, runtime, console, local=local, data_dir=data_dir, queue=queue,
               bucket=bucket, region=region, need_bucket=True) as target,
    ):  # fmt: skip
        submitter = attach_batch(
            runtime,
            batch_id,
            queue=target.queue,
            bucket=str(target.bucket),
            clients=target.clients,
            poll_seconds=opt.AWS_POLL_SECONDS,
            progress=SilentProgress(),
            not_found=target.not_found,
        )
        missing = emit_outputs(submitter, console)
        console.print(f"batch {escape(batch_id)}")
        console.print(
            key_value_table(
                "outputs",
                [
                    ("jobs", len(submitter.jobs)),
                    ("with output", len(submitter.jobs) - missing),
                    ("without output", missing),
                ],
            )
        )
    raise typer.Exit(EXIT_OK if missing == 0 else EXIT_FAILED)


def logs(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(help="The AWS Batch job id.", show_default=False)],
    tail: Annotated[
        int,
        typer.Option("--tail", "-t", min=1, max=MAX_LOG_EVENTS, help="Print the last N lines."),
    ] = 50,
    region: opt.Region = None,
    local: Local = False,
    data_dir: DataDir = None,
) -> None:
    """Print the last lines a job wrote (CloudWatch Logs group /aws/batch/job).

    With --local, of a job of the local account.
    """
    runtime = runtime_of(ctx)
    console = stderr_console()
    with (
        cli_errors(console),
        follow(ctx, runtime, console, local=local, data_dir=data_dir, queue=None,
               region=region, need_queue=False) as target,
    ):  # fmt: skip
        clients = target.clients
        poller = Poller(
            clients.batch, request_throttling_milliseconds=0, governor=runtime.governor(),
            seams=runtime.seams,
        )  # fmt: skip
        state = poller.describe([job_id]).get(job_id)
        if state is None:
            fail(f"no job {job_id} {target.not_found}")
        stream = state.log_stream_name
        if not stream:
            fail(f"job {job_id} is {state.status.value} and has no log stream (not started yet?)")
        reader = LogReader(clients.logs)
        lines = reader.tail(stream, tail)
        for line in lines:
            typer.echo(terminal_safe(line.rstrip("\n")))
        console.print(
            f"[dim]{len(lines)} line(s) of {reader.log_group}/{escape(terminal_safe(stream))}; "
            f"job {escape(job_id)} is {state.status.value}[/]"
        )
    raise typer.Exit(EXIT_OK)


def cancel(
    ctx: typer.Context,
    batch_id: opt.BatchIdArg,
    queue: opt.OptionalQueue = None,
    reason: Annotated[
        str, typer.Option("--reason", help="Reason recorded on every terminated job.")
    ] = DEFAULT_CANCEL_REASON,
    region: opt.Region = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait until every job of the batch has ended.")
    ] = False,
    poll_seconds: opt.PollSeconds = None,
    local: Local = False,
    data_dir: DataDir = None,
) -> None:
    """Terminate every unfinished job of a batch, deregister its job definition, report states.

    On AWS it needs --queue (or PCR_QUEUE); with --local it cancels a batch of the local
    account. Terminating stops SUBMITTED to RUNNING jobs alike; they end FAILED with the
    reason. An array job is terminated through its parent.
    """
    runtime = runtime_of(ctx)
    console = stderr_console()
    started = runtime.clock()
    with (
        cli_errors(console),
        follow(ctx, runtime, console, local=local, data_dir=data_dir, queue=queue,
               region=region) as target,
    ):  # fmt: skip
        clients = target.clients
        queue = target.queue
        governor = runtime.governor()
        view = fetch_view(runtime, clients, governor, batch_id, queue, target.not_found)
        unfinished = view.unfinished()
        view.cancel(reason, clients=clients, governor=governor)
        console.print(f"terminated {len(unfinished)} of {len(view.jobs)} job(s)")
        if view.definition_active:
            registry = BatchRegistry.find(clients.batch, BatchId.parse(batch_id), governor=governor)
            if registry.deregister():
                console.print(f"deregistered job definition {escape(batch_id)}")
        if unfinished and wait:
            by_id = {job.job_id: job for job in view.jobs}
            poller = Poller(
                clients.batch,
                polling_interval_seconds=poll_seconds if poll_seconds is not None else (
                    opt.LOCAL_POLL_SECONDS if target.local else opt.AWS_POLL_SECONDS),
                governor=governor, seams=runtime.seams,
            )  # fmt: skip
            poller.wait(
                [r.job_id for r in unfinished],
                arrays={a for r in unfinished if (a := by_id[r.job_id].array_id) is not None},
            )
        final = (
            fetch_view(runtime, clients, governor, batch_id, queue, target.not_found)
            if unfinished
            else view
        )
        _print_view(console, final)
        console.print(f"wall time {format_seconds(runtime.clock() - started)}")
        typer.echo(
            json.dumps(
                {
                    "batch_id": view.batch_id,
                    "jobs": len(view.jobs),
                    "terminated": len(unfinished),
                    "counts": _counts_json(final.counts),
                },
                separators=(",", ":"),
            )
        )
    raise typer.Exit(EXIT_OK)
