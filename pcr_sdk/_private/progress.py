"""Progress reporters for the facade. The services never print; this is where printing lives."""

from __future__ import annotations

import sys
import time
from typing import Final, Protocol, TextIO, runtime_checkable

from pcr_sdk._private.model.results import JobResult
from pcr_sdk._private.public import public
from pcr_sdk._private.seams import Clock
from pcr_sdk._private.services.poll_run import PollProgress

HEARTBEAT_SECONDS: Final = 60.0


@public("pcr_sdk")
@runtime_checkable
class ProgressReporter(Protocol):
    """Receives the facade's progress; replace it to route progress anywhere."""

    def on_progress(self, progress: PollProgress) -> None:
        """Called after every poll with the batch's counts by status.

        Args:
            progress: the counts of the batch's jobs by status after the poll, and the jobs
                that cannot start.
        """
        ...

    def on_job_failed(self, result: JobResult) -> None:
        """Called once per failed job, with its result (reason, exit code, failure kind).

        Args:
            result: the failed job's result.
        """
        ...


@public("pcr_sdk")
class PrintProgress:
    """The seed's "Jobs finished: 3/10" and a warning per failed job, without the noise.

    A line is printed when the finished count changes, and otherwise at most once every
    `heartbeat_seconds` (so a long wait still shows it is alive).

    Args:
        stream: where the lines go (default: whatever `sys.stdout` is when a line is printed).
        heartbeat_seconds: the longest time between two lines while nothing changes.
        clock: monotonic seconds, for tests.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        clock: Clock = time.monotonic,
    ) -> None:
        self._stream = stream
        self._heartbeat = heartbeat_seconds
        self._clock = clock
        self._last: tuple[int, int] | None = None
        self._printed_at: float | None = None
        self._blocked: set[str] = set()

    @property
    def stream(self) -> TextIO:
        """Where the lines go: the stream given, else the current `sys.stdout`."""
        return self._stream if self._stream is not None else sys.stdout

    def on_progress(self, progress: PollProgress) -> None:
        """Print "Jobs finished: k/n" when k changed, otherwise at most once every
        `heartbeat_seconds`, and a warning once per job that cannot start (its status reason).

        Args:
            progress: the counts of the batch's jobs by status after the poll, and the jobs
                that cannot start.
        """
        for job_id, reason in progress.blocked.items():
            if job_id not in self._blocked:
                self._blocked.add(job_id)
                print(f"Warning: job {job_id} cannot start: {reason}", file=self.stream, flush=True)
        now = self._clock()
        current = (progress.finished, progress.total)
        quiet = self._printed_at is not None and now - self._printed_at < self._heartbeat
        if current == self._last and quiet:
            return
        self._last, self._printed_at = current, now
        print(f"Jobs finished: {progress.finished}/{progress.total}", file=self.stream, flush=True)

    def on_job_failed(self, result: JobResult) -> None:
        """Print one warning line for the failed job: id, index, reason and exit code.

        Args:
            result: the failed job's result.
        """
        reason = result.status_reason or "no reason given"
        code = "" if result.exit_code is None else f", exit code {result.exit_code}"
        print(
            f"Warning: job {result.job_id} (index {result.index}) failed: {reason}{code}",
            file=self.stream,
            flush=True,
        )


@public("pcr_sdk")
class SilentProgress:
    """Reports nothing."""

    def on_progress(self, progress: PollProgress) -> None:
        """Print nothing.

        Args:
            progress: ignored.
        """
        return None

    def on_job_failed(self, result: JobResult) -> None:
        """Print nothing.

        Args:
            result: ignored.
        """
        return None
