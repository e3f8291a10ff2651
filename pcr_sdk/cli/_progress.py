"""Rich progress on stderr: a `ProgressReporter` with a live bar, and summary tables."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import TracebackType

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from pcr_sdk._private.aws import JobStatus
from pcr_sdk._private.models import JobResult
from pcr_sdk._private.poller import PollProgress


def stderr_console() -> Console:
    """The console every table and bar goes to: stderr, so stdout stays machine-readable."""
    return Console(stderr=True, highlight=False)


def describe_counts(counts: Mapping[JobStatus, int]) -> str:
    """`"2 running, 5 succeeded"`: the non-zero statuses in AWS Batch's order."""
    return ", ".join(f"{counts[s]} {s.value.lower()}" for s in JobStatus if counts.get(s, 0))


class RichProgress:
    """A `ProgressReporter` drawing a live progress bar on stderr, one line per failed job.

    Use it as a context manager around submission and waiting; the bar is drawn in place on a
    terminal, and printed once, finished, when stderr is a file or a pipe.
    """

    def __init__(self, console: Console, *, label: str = "jobs") -> None:
        self.console = console
        self.label = label
        self.failed: list[JobResult] = []
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[detail]}"),
            console=console,
            refresh_per_second=8,
        )
        self._submit_task: TaskID | None = None
        self._wait_task: TaskID | None = None

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def begin_submit(self, total: int) -> None:
        """Show a bar for `total` submissions."""
        self._submit_task = self._progress.add_task("submitted", total=total, detail="")

    def submitted(self, count: int = 1) -> None:
        """`count` more jobs were submitted."""
        if self._submit_task is not None:
            self._progress.advance(self._submit_task, count)

    def begin_wait(self, total: int) -> None:
        """Show the bar of finished jobs before the first polling cycle reports."""
        if self._wait_task is None:
            self._wait_task = self._progress.add_task(
                "finished", total=total, detail="waiting for the first poll"
            )

    # -- ProgressReporter ---------------------------------------------------------------------

    def on_progress(self, progress: PollProgress) -> None:
        """One polling cycle's counts."""
        self.begin_wait(progress.total)
        if self._wait_task is not None:
            self._progress.update(
                self._wait_task,
                total=progress.total,
                completed=progress.finished,
                detail=describe_counts(progress.counts),
            )

    def on_job_failed(self, result: JobResult) -> None:
        """A line above the bar naming the failed job, its reason and exit code."""
        self.failed.append(result)
        reason = result.status_reason or "no reason given"
        code = "" if result.exit_code is None else f", exit code {result.exit_code}"
        self.console.print(
            f"[red]FAILED[/] job {result.index} ({escape(result.job_id)}): {escape(reason)}{code}"
        )


def key_value_table(title: str, rows: Iterable[tuple[str, object]]) -> Table:
    """A two-column table: a label and its value per row."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    for label, value in rows:
        table.add_row(label, escape(str(value)))
    return table


def counts_table(title: str, counts: Mapping[JobStatus, int]) -> Table:
    """Jobs per status, every status shown, and the total."""
    table = Table(title=title, title_justify="left")
    table.add_column("status")
    table.add_column("jobs", justify="right")
    for status in JobStatus:
        table.add_row(status.value, str(counts.get(status, 0)))
    table.add_section()
    table.add_row("[bold]total[/]", str(sum(counts.values())))
    return table


def failures_table(results: Iterable[JobResult]) -> Table:
    """One row per failed job: index, id, exit code, reason."""
    table = Table(title="failed jobs", title_justify="left")
    table.add_column("index", justify="right")
    table.add_column("job id", no_wrap=True, min_width=36)
    table.add_column("exit", justify="right")
    table.add_column("reason")
    for result in results:
        table.add_row(
            str(result.index),
            escape(result.job_id),
            "" if result.exit_code is None else str(result.exit_code),
            escape(result.status_reason or ""),
        )
    return table
