"""The timeline's bars: one per job, or per group of jobs for large batches.

Bars are in time order (by where they begin, then by index), so a group is a run of jobs
that began one after another and x positions follow start times down the chart.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from pcr_sdk.report._model import FAILURE_KINDS, UNKNOWN_FAILURE, JobTiming

MAX_BARS: Final = 200
"""More jobs than this are drawn as groups, at most this many: 10,000 jobs stay small."""
OUTCOMES: Final = ("failed", "running", "waiting", "expired", "succeeded")
"""A bar's outcome; a group takes the first of these that any of its jobs has."""


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: blocked (on dependencies) from `start`, waiting from `ready`, running from
    `run_start` (None: never started) to `end`; all epoch milliseconds, non-decreasing."""

    first_index: int
    last_index: int
    count: int
    start: int
    ready: int
    run_start: int | None
    end: int
    outcome: str
    outcomes: dict[str, int]
    """How many of its jobs have each outcome (one entry for a single job)."""
    statuses: dict[str, int]
    failures: dict[str, int]
    job_id: str | None
    """The job's id for a single-job bar, None for a group."""


def outcome(timing: JobTiming) -> str:
    """failed, running, waiting, expired or succeeded: what the job's bar is coloured by."""
    job = timing.job
    if job.failed:
        return "failed"
    if job.status == "SUCCEEDED":
        return "succeeded"
    if job.status == "EXPIRED":
        return "expired"
    return "running" if job.started_at is not None else "waiting"


def bars(timings: Sequence[JobTiming], max_bars: int = MAX_BARS) -> list[Bar]:
    """The bars for the jobs that have a timestamp: one each, or groups of equal size."""
    placed = [(p, t) for t in timings if (p := _place(t)) is not None]
    placed.sort(key=lambda pt: (pt[0][0], pt[1].job.index))
    size = max(1, math.ceil(len(placed) / max(1, max_bars)))
    return [_bar(placed[i : i + size]) for i in range(0, len(placed), size)]


_Place = tuple[int, int, int | None, int]


def _place(timing: JobTiming) -> _Place | None:
    """(start, ready, run_start, end), clamped so that they never go backwards."""
    job = timing.job
    known = [v for v in (job.created_at, job.started_at, job.stopped_at) if v is not None]
    if not known:
        return None
    start = known[0]
    run_start = job.started_at
    end = max(start, timing.end_at if timing.end_at is not None else start)
    if run_start is not None:
        run_start = min(max(run_start, start), end)
    limit = run_start if run_start is not None else end
    ready = min(max(timing.ready_at or start, start), limit)
    return start, ready, run_start, end


def _bar(members: list[tuple[_Place, JobTiming]]) -> Bar:
    places = [p for p, _ in members]
    timings = [t for _, t in members]
    starts = [p[2] for p in places if p[2] is not None]
    outcomes = Counter(outcome(t) for t in timings)
    start = min(p[0] for p in places)
    run_start = min(starts) if starts else None
    end = max(p[3] for p in places)
    ready_limit = run_start if run_start is not None else end
    failures = Counter(t.job.failure or UNKNOWN_FAILURE for t in timings if t.job.failed)
    return Bar(
        first_index=min(t.job.index for t in timings),
        last_index=max(t.job.index for t in timings),
        count=len(timings),
        start=start,
        ready=min(*(p[1] for p in places), ready_limit),
        run_start=run_start,
        end=end,
        outcome=next(o for o in OUTCOMES if o in outcomes),
        outcomes={o: outcomes[o] for o in OUTCOMES if o in outcomes},
        statuses=dict(Counter(t.job.status for t in timings)),
        failures={k: failures[k] for k in sorted(failures, key=_failure_rank)},
        job_id=timings[0].job.job_id if len(timings) == 1 else None,
    )


def _failure_rank(kind: str) -> tuple[int, str]:
    return (FAILURE_KINDS.index(kind) if kind in FAILURE_KINDS else len(FAILURE_KINDS), kind)


def main_failure(bar: Bar) -> str | None:
    """The failure kind most jobs of the bar failed with (ties: the first in FAILURE_KINDS)."""
    if not bar.failures:
        return None
    return max(bar.failures, key=lambda k: (bar.failures[k], -_failure_rank(k)[0]))
