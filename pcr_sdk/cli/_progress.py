"""Progress and tables on stderr, so that stdout stays machine-readable.

On a terminal, a live bar; anywhere else (CI logs, `2>log`, a pipe) one plain line per event:
the batch id first, then each change, never hard-wrapped, so grep finds whole lines. Tables
are as wide as their content (on a terminal, at most as wide as the terminal).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Final, Protocol

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

from pcr_sdk import JobResult, JobStatus, PollProgress
from pcr_sdk.cli._escape import terminal_safe

WIDE: Final = 100_000
"""The width of a console that is not a terminal: nothing is wrapped by pcr."""
HEARTBEAT_SECONDS: Final = 60.0
SUBMIT_REFRESH_SECONDS: Final = 0.1


def stderr_console() -> Console:
    """The console every table, bar and message goes to: stderr, soft-wrapped.

    Off a terminal it is as wide as any line, so lines and tables are never hard-wrapped.
    """
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    if not console.is_terminal:
        console = Console(stderr=True, highlight=False, soft_wrap=True, width=WIDE)
    return console


def describe_counts(counts: Mapping[JobStatus, int]) -> str:
    """`"2 running, 5 succeeded"`: the non-zero statuses in AWS Batch's order."""
    return ", ".join(f"{counts[s]} {s.value.lower()}" for s in JobStatus if counts.get(s, 0))


def failure_line(result: JobResult) -> str:
    """`FAILED job 3 (<id>): <reason>, exit code 1`, markup-escaped."""
    reason = result.status_reason or "no reason given"
    code = "" if result.exit_code is None else f", exit code {result.exit_code}"
    return f"[red]FAILED[/] job {result.index} ({escape(result.job_id)}): {escape(reason)}{code}"


class BatchProgress(Protocol):
    """What the commands report while a batch is submitted and waited for.

    Also a `pcr_sdk.advanced.ProgressReporter` (`on_progress`, `on_job_failed`), and a context
    manager around submission and waiting.
    """

    def __enter__(self) -> BatchProgress: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def begin_submit(self, total: int, count: Callable[[], int]) -> None: ...

    def end_submit(self, submitted: int, seconds: float) -> None: ...

    def begin_wait(self, total: int) -> None: ...

    def on_progress(self, progress: PollProgress) -> None: ...

    def on_job_failed(self, result: JobResult) -> None: ...


FailureWording = Callable[[JobResult], str | None]
"""How a failed job is told: its line (rich markup), or None to say nothing."""


def batch_progress(
    console: Console, *, clock: Callable[[], float], failure: FailureWording = failure_line
) -> BatchProgress:
    """A live bar on a terminal, plain lines anywhere else; `failure` words failed jobs."""
    if console.is_terminal:
        return LiveProgress(console, failure=failure)
    return PlainProgress(console, clock=clock, failure=failure)


class PlainProgress:
    """One plain line per event: submission, each change of the counts, each failed job, and
    a heartbeat at most once a minute while nothing changes."""

    def __init__(
        self,
        console: Console,
        *,
        clock: Callable[[], float] = time.monotonic,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        failure: FailureWording = failure_line,
    ) -> None:
        self.console = console
        self._failure = failure
        self._clock = clock
        self._heartbeat = heartbeat_seconds
        self._last: tuple[int, str] | None = None
        self._printed_at: float | None = None

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def _line(self, text: str) -> None:
        self.console.print(text)
        self._printed_at = self._clock()

    def begin_submit(self, total: int, count: Callable[[], int]) -> None:
        self._line(f"submitting {total} job(s)")

    def end_submit(self, submitted: int, seconds: float) -> None:
        self._line(f"submitted {submitted} job(s) in {seconds:.1f} s")

    def begin_wait(self, total: int) -> None:
        return None

    def on_progress(self, progress: PollProgress) -> None:
        detail = describe_counts(progress.counts)
        current = (progress.finished, detail)
        quiet = self._printed_at is not None and self._clock() - self._printed_at < self._heartbeat
        if current == self._last and quiet:
            return
        self._last = current
        self._line(f"finished {progress.finished}/{progress.total}: {detail or 'none seen yet'}")

    def on_job_failed(self, result: JobResult) -> None:
        line = self._failure(result)
        if line is not None:
            self._line(line)


class LiveProgress:
    """A live progress bar on stderr (a terminal), and one line per failed job above it."""

    def __init__(self, console: Console, *, failure: FailureWording = failure_line) -> None:
        self.console = console
        self._failure = failure
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
        self._ticker: threading.Thread | None = None
        self._submit_ended = threading.Event()

    def __enter__(self) -> LiveProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop_ticker()
        self._progress.stop()

    def begin_submit(self, total: int, count: Callable[[], int]) -> None:
        """A bar of submitted jobs, fed from `count` until `end_submit`."""
        task = self._progress.add_task("submitted", total=total, detail="")
        self._submit_task = task
        self._submit_ended.clear()

        def tick() -> None:
            while True:
                self._progress.update(task, completed=count())
                if self._submit_ended.wait(SUBMIT_REFRESH_SECONDS):
                    return

        self._ticker = threading.Thread(target=tick, name="pcr-submit-progress", daemon=True)
        self._ticker.start()

    def _stop_ticker(self) -> None:
        self._submit_ended.set()
        if self._ticker is not None:
            self._ticker.join()
            self._ticker = None

    def end_submit(self, submitted: int, seconds: float) -> None:
        self._stop_ticker()
        if self._submit_task is not None:
            self._progress.update(
                self._submit_task, completed=submitted, detail=f"in {seconds:.1f} s"
            )

    def begin_wait(self, total: int) -> None:
        """Show the bar of finished jobs before the first polling cycle reports."""
        if self._wait_task is None:
            self._wait_task = self._progress.add_task(
                "finished", total=total, detail="waiting for the first poll"
            )

    def on_progress(self, progress: PollProgress) -> None:
        self.begin_wait(progress.total)
        if self._wait_task is not None:
            self._progress.update(
                self._wait_task,
                total=progress.total,
                completed=progress.finished,
                detail=describe_counts(progress.counts),
            )

    def on_job_failed(self, result: JobResult) -> None:
        line = self._failure(result)
        if line is not None:
            self.console.print(line)


def key_value_table(title: str, rows: Iterable[tuple[str, object]]) -> Table:
    """A two-column table: a label and its value per row."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold", no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
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
    table.add_column("job id", no_wrap=True)
    table.add_column("exit", justify="right")
    table.add_column("reason")
    for result in results:
        table.add_row(
            str(result.index),
            escape(result.job_id),
            "" if result.exit_code is None else str(result.exit_code),
            escape(terminal_safe(result.status_reason or "")),
        )
    return table
