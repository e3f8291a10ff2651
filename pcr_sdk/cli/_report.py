"""`pcr report`: a picture of a batch, as one self-contained HTML page or as JSON.

The data comes from the read-only `BatchStatus` view (AWS Batch alone: no bucket, nothing
written), with the attempts reruns replaced (`pcr retry`); the job definition gives every
job's vCPUs, GPUs and memory, and the page's log tails are read only for the jobs it lists
(the failed ones it shows, the slowest and the attempts reruns replaced): a DescribeJobs for
those whose log stream the view does not know yet (array children), 100 ids a call, then one
GetLogEvents each. The rendering is `pcr_sdk.report`'s (docs/report.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Final

import typer
from rich.markup import escape

from pcr_sdk import BatchStatus
from pcr_sdk.advanced import Poller
from pcr_sdk.cli import _options as opt
from pcr_sdk.cli._batch import log_tail
from pcr_sdk.cli._inspect import fetch_view
from pcr_sdk.cli._local import DataDir, Local, follow
from pcr_sdk.cli._progress import stderr_console
from pcr_sdk.cli._runtime import EXIT_OK, cli_errors, fail, runtime_of
from pcr_sdk.report import BatchReport, ReportJob, render_html

LOG_LINES: Final = 30
"""Log lines read per listed job: the page shows the last 10 once botocore's own logging is
left out."""


def report_jobs(view: BatchStatus, tails: Mapping[str, Sequence[str]]) -> list[ReportJob]:
    """One `ReportJob` per job of the view (array children, not their parents), and one per
    attempt a rerun replaced."""
    spec = view.definition
    jobs: list[ReportJob] = []
    pairs = [*zip(view.jobs, view.results, strict=True),
             *zip(view.earlier_jobs, view.earlier_results, strict=True)]  # fmt: skip
    for job, result in pairs:
        jobs.append(
            ReportJob(
                job_id=job.job_id,
                index=job.index,
                status=result.status.value,
                failure=None if result.failure is None else result.failure.value,
                status_reason=result.status_reason,
                created_at=result.created_at,
                started_at=result.started_at,
                stopped_at=result.stopped_at,
                depends_on=tuple(job.depends_on),
                vcpus=float(spec.vcpus) if spec is not None else 0.0,
                gpus=spec.gpus if spec is not None else 0,
                memory_mib=spec.memory_mib if spec is not None else 0,
                attempts=result.attempts,
                attempt=job.attempt,
                array_id=job.array_id,
                log_tail=tuple(tails.get(job.job_id, ())),
            )
        )
    return jobs


def report(
    ctx: typer.Context,
    batch_id: opt.BatchIdArg,
    queue: opt.OptionalQueue = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write to FILE (default: `<batch_id>.html`; with --json: stdout).",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="The report's data as JSON instead of HTML.")
    ] = False,
    slowest: Annotated[
        int, typer.Option("--slowest", min=0, max=1000, help="How many slowest jobs to list.")
    ] = 10,
    region: opt.Region = None,
    local: Local = False,
    data_dir: DataDir = None,
) -> None:
    """Draw a batch: each job's wait and run on a timeline, summary figures, slowest and
    failed jobs with their last log lines.

    Writes one self-contained HTML page (no script, nothing fetched from outside) and prints
    its path, or with --json prints the same data as JSON. Works on a running batch too.
    On AWS it needs --queue (or PCR_QUEUE), and AWS Batch shows finished jobs for about a
    day; with --local it draws a batch of the local account, kept until `pcr local rm`. The
    page is described in docs/report.md.
    """
    runtime = runtime_of(ctx)
    console = stderr_console()
    with (
        cli_errors(console),
        follow(ctx, runtime, console, local=local, data_dir=data_dir, queue=queue,
               region=region) as target,
    ):  # fmt: skip
        clients = target.clients
        governor = runtime.governor()
        view = fetch_view(runtime, clients, governor, batch_id, target.queue, target.not_found)
        now_ms = runtime.now_ms()
        first = BatchReport.build(view.batch_id, report_jobs(view, {}), now_ms=now_ms,
                                  slowest=slowest)  # fmt: skip
        shown = (*first.failed, *first.slowest, *first.earlier_listed)
        listed = list(dict.fromkeys(t.job.job_id for t in shown))
        poller = Poller(
            clients.batch, request_throttling_milliseconds=0, governor=governor,
            seams=runtime.seams,
        )  # fmt: skip
        streams = {r.job_id: r.log_stream_name for r in (*view.results, *view.earlier_results)}
        unknown = [job_id for job_id in listed if not streams.get(job_id)]
        if unknown:  # array children come from ListJobs summaries, which carry no log stream
            streams.update((i, s.log_stream_name) for i, s in poller.describe(unknown).items())
        tails: dict[str, list[str]] = {}
        for job_id in listed:
            stream = streams.get(job_id)
            if stream:
                tails[job_id] = log_tail(clients, stream, LOG_LINES)
        built = BatchReport.build(view.batch_id, report_jobs(view, tails), now_ms=now_ms,
                                  slowest=slowest)  # fmt: skip
        if as_json:
            text = json.dumps(built.to_json(), separators=(",", ":"))
            if output is None:
                typer.echo(text)
            else:
                _write(output, text + "\n")
                typer.echo(str(output))
        else:
            path = output if output is not None else Path(f"{view.batch_id}.html")
            _write(path, render_html(built))
            typer.echo(str(path))
        state = "finished" if built.finished else "still running"
        console.print(
            f"batch {escape(view.batch_id)}: {len(view.jobs)} job(s), {state}, "
            f"{built.failed_total} failed; log tails of {len(tails)} job(s)"
        )
    raise typer.Exit(EXIT_OK)


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        fail(f"{path}: cannot write: {err.strerror or err}")
