"""`pcr demo`: a real fan-out / tree-reduce batch on the embedded local backend.

Work job k sums i*i over its own range of `chunk` numbers; reduce jobs add up at most 20
outputs each (AWS Batch allows 20 dependencies per job), level by level, until one final
reduce holds the sum of squares of 1..n, which must equal n(n+1)(2n+1)/6.
"""

from __future__ import annotations

import json
import math
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Final

import typer
from rich.console import Console

from pcr_sdk import (
    InterruptedBySignal,
    JobResult,
    JobStatus,
    JobSubmitter,
    OutputError,
    handle_signals,
)
from pcr_sdk.cli._batch import (
    MAX_FAILURE_ROWS,
    Ending,
    format_seconds,
    report_failures,
)
from pcr_sdk.cli._local import hold, local_options
from pcr_sdk.cli._progress import (
    BatchProgress,
    batch_progress,
    failures_table,
    key_value_table,
    stderr_console,
)
from pcr_sdk.cli._runtime import (
    EXIT_FAILED,
    EXIT_OK,
    LocalOptions,
    cli_errors,
    runtime_of,
)

MAX_DEPENDENCIES: Final = 20
"""AWS Batch takes at most 20 dependencies per job."""
WORKER: Final = Path(__file__).with_name("_demo_worker.py")
DEMO_IMAGE: Final = "pcr-demo-worker"


def reduce_levels(work_jobs: int, fan_in: int = MAX_DEPENDENCIES) -> list[int]:
    """How many reduce jobs each level of the tree has, ending with the one final reduce."""
    if work_jobs < 1 or fan_in < 2:
        raise ValueError("need at least one work job and a fan-in of at least 2")
    levels: list[int] = []
    width = work_jobs
    while not levels or width > 1:
        width = math.ceil(width / fan_in)
        levels.append(width)
    return levels


def sum_of_squares(n: int) -> int:
    """1*1 + 2*2 + ... + n*n, in closed form."""
    return n * (n + 1) * (2 * n + 1) // 6


@dataclass(frozen=True)
class DemoOutcome:
    """What the demo computed and what it should have."""

    final_job_id: str | None
    result: int | None
    terms: int | None
    expected: int
    n: int

    @property
    def correct(self) -> bool:
        return self.result == self.expected and self.terms == self.n


def submit_tree(submitter: JobSubmitter, *, work_jobs: int, chunk: int) -> str:
    """Submit the work jobs (concurrently) and the reduce tree above them; return the final
    reduce's job id."""
    tasks = [
        {"task": "squares", "first": k * chunk + 1, "last": (k + 1) * chunk}
        for k in range(work_jobs)
    ]
    level = submitter.submit_jobs(tasks, array=False)
    while True:
        parents: list[str] = []
        index_of = {job.job_id: job.index for job in submitter.jobs}
        for start in range(0, len(level), MAX_DEPENDENCIES):
            group = level[start : start + MAX_DEPENDENCIES]
            keys = [submitter.layout.output_key(index_of[job_id]) for job_id in group]
            parents.append(submitter.submit_job({"task": "sum", "keys": keys}, group))
        if len(parents) == 1:
            return parents[0]
        level = parents


def run_demo(
    submitter: JobSubmitter,
    progress: BatchProgress,
    *,
    work_jobs: int,
    chunk: int,
    total: int,
    clock: Callable[[], float],
) -> tuple[str | None, Ending]:
    """Submit the tree and wait; a signal cancels the batch (the demo owns it)."""
    final: str | None = None
    try:
        with handle_signals(submitter, owns=True), progress:
            started = clock()
            progress.begin_submit(total, lambda: len(submitter.jobs))
            final = submit_tree(submitter, work_jobs=work_jobs, chunk=chunk)
            progress.end_submit(len(submitter.jobs), clock() - started)
            progress.begin_wait(total)
            submitter.wait_until_jobs_finished()
    except InterruptedBySignal as interrupt:
        return final, Ending(signum=interrupt.signum)
    except KeyboardInterrupt:
        return final, Ending(signum=signal.SIGINT)
    return final, Ending()


def read_outcome(submitter: JobSubmitter, final_job_id: str | None, n: int) -> DemoOutcome:
    """The final reduce's output next to the closed form."""
    result: int | None = None
    terms: int | None = None
    try:
        if final_job_id is not None:
            output = json.loads(submitter.get_output(final_job_id))
            result, terms = int(output["sum"]), int(output["terms"])
    except (OutputError, ValueError, KeyError, TypeError):
        pass  # reported as a wrong result below
    return DemoOutcome(
        final_job_id=final_job_id,
        result=result,
        terms=terms,
        expected=sum_of_squares(n),
        n=n,
    )


def demo(
    ctx: typer.Context,
    jobs: Annotated[
        int,
        typer.Option("--jobs", "-j", min=1, max=2000, help="Number of work jobs to fan out."),
    ] = 60,
    parallel: Annotated[
        int | None,
        typer.Option(
            "--parallel",
            "-p",
            min=1,
            help="Jobs running at once (default: one per CPU).",
            show_default=False,
        ),
    ] = None,
    chunk: Annotated[
        int, typer.Option("--chunk", min=1, max=10_000_000, help="Numbers each work job sums.")
    ] = 1000,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            envvar="PCR_LOCAL_DIR",
            file_okay=False,
            help="The local account that keeps the batch (default: the user's state directory).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run a real batch locally: a fan-out of work jobs and a tree of reduce jobs.

    Needs no AWS account and touches nothing but 127.0.0.1. Work job k sums the squares of
    its range, reduce jobs sum at most 20 outputs each, and the final sum of squares of 1..n
    is checked against n(n+1)(2n+1)/6. The batch is kept in the local account: `pcr report
    BATCH_ID --local` draws it afterwards. Exit 0 only if it is correct.
    """
    runtime = runtime_of(ctx)
    console = stderr_console()
    started = runtime.clock()
    levels = reduce_levels(jobs)
    total = jobs + sum(levels)
    console.print(
        f"pcr demo: {jobs} work job(s), {sum(levels)} reduce job(s) in {len(levels)} level(s) "
        f"({' -> '.join(map(str, levels))}), on the local backend"
    )
    with cli_errors(console), handle_signals():
        options = LocalOptions.for_jobs([sys.executable, str(WORKER)], parallel=parallel)
        options = local_options(options, data_dir, image=DEMO_IMAGE)
        with hold(runtime, options, console) as backend:
            progress = batch_progress(console, clock=runtime.clock)
            submitter = backend.job_submitter(
                "pcr-demo",
                DEMO_IMAGE,
                timeout_in_hours=1,
                governor=runtime.governor(),
                progress=progress,
                seams=runtime.seams,
            )
            console.print(f"batch {submitter.get_batch_id()}: {total} job(s)")
            with submitter:
                final, ending = run_demo(
                    submitter, progress, work_jobs=jobs, chunk=chunk, total=total,
                    clock=runtime.clock,
                )  # fmt: skip
            if ending.signum is not None:
                console.print(f"interrupted by {ending.signal_name}: the demo's jobs were stopped")
            outcome = read_outcome(submitter, final, jobs * chunk)
            results = submitter.get_results()
            seconds = runtime.clock() - started
            print_outcome(console, outcome, results, seconds=seconds)
            failed = [r for r in results if r.status is JobStatus.FAILED]
            report_failures(console, submitter, failed, local=True)
    typer.echo(
        json.dumps(
            {
                "batch_id": submitter.get_batch_id(),
                "jobs": len(results),
                "n": outcome.n,
                "result": outcome.result,
                "expected": outcome.expected,
                "correct": outcome.correct,
                "seconds": round(seconds, 2),
            },
            separators=(",", ":"),
        )
    )
    if ending.code is not None:
        raise typer.Exit(ending.code)
    raise typer.Exit(EXIT_OK if outcome.correct else EXIT_FAILED)


def print_outcome(
    console: Console,
    outcome: DemoOutcome,
    results: Sequence[JobResult],
    *,
    seconds: float,
) -> None:
    """The summary table with the result and the verdict, on stderr."""
    failed = [r for r in results if r.status is JobStatus.FAILED]
    if failed:
        console.print(failures_table(failed[:MAX_FAILURE_ROWS]))
    verdict = "[bold green]correct[/]" if outcome.correct else "[bold red]WRONG[/]"
    table = key_value_table(
        "pcr demo",
        [
            ("jobs", len(results)),
            ("succeeded", sum(1 for r in results if r.status is JobStatus.SUCCEEDED)),
            ("failed", len(failed)),
            ("wall time", format_seconds(seconds)),
            ("n", outcome.n),
            ("sum of squares 1..n", "none" if outcome.result is None else outcome.result),
            ("n(n+1)(2n+1)/6", outcome.expected),
        ],
    )
    table.add_row("result", verdict)
    console.print(table)
