"""Poll progress as a wait reports it, for the progress reporters' tests."""

from __future__ import annotations

from typing import Final

from pcr_sdk import JobStatus, PollProgress

POLLS: Final = [(0, 6)] * 13 + [(1, 5)] * 8 + [(2, 4)] * 6 + [(4, 2)] * 9 + [(5, 1)] * 8 + [(6, 0)]
"""A 6-job batch polled every 0.2 s: 45 polls of (finished, running), the finished count
changing 6 times."""


def poll(cycle: int, finished: int, running: int, total: int = 6) -> PollProgress:
    """Poll `cycle`'s progress: `finished` jobs SUCCEEDED, `running` RUNNING."""
    counts = {JobStatus.SUCCEEDED: finished, JobStatus.RUNNING: running}
    return PollProgress(cycle=cycle, total=total, counts={k: v for k, v in counts.items() if v})
