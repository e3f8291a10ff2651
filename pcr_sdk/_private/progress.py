"""Progress reporters for the facade. The services never print; this is where printing lives."""

from __future__ import annotations

import sys
from typing import Protocol, TextIO, runtime_checkable

from pcr_sdk._private.models import JobResult
from pcr_sdk._private.poller import PollProgress


@runtime_checkable
class ProgressReporter(Protocol):
    """Receives the facade's progress; replace it to route progress anywhere."""

    def on_progress(self, progress: PollProgress) -> None: ...

    def on_job_failed(self, result: JobResult) -> None: ...


class PrintProgress:
    """The seed's behaviour: "Jobs finished: 3/10" per cycle and a warning per failed job."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stdout

    def on_progress(self, progress: PollProgress) -> None:
        print(f"Jobs finished: {progress.finished}/{progress.total}", file=self.stream, flush=True)

    def on_job_failed(self, result: JobResult) -> None:
        reason = result.status_reason or "no reason given"
        code = "" if result.exit_code is None else f", exit code {result.exit_code}"
        print(
            f"Warning: job {result.job_id} (index {result.index}) failed: {reason}{code}",
            file=self.stream,
            flush=True,
        )


class SilentProgress:
    """Reports nothing."""

    def on_progress(self, progress: PollProgress) -> None:
        return None

    def on_job_failed(self, result: JobResult) -> None:
        return None
