"""The timeline's bars: one row per job (every attempt of its index on it), or per group of
jobs for large batches.

Rows are in time order (by where they begin, then by index), so a group is a run of jobs
that began one after another and x positions follow start times down the chart. A rerun is a
later attempt at the same index: it is drawn on its job's row, after the attempts it replaced.
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
class Span:
    """An attempt a rerun replaced, on its job's row (for a group: all of its jobs' replaced
    attempts as one span): from `start` to `end`, running from `run_start` (None: never
    started); epoch milliseconds, non-decreasing."""

    start: int
    ready: int
    run_start: int | None
    end: int
    outcome: str
    failure: str | None
    """Its failure kind (for a group: the most common), None if it did not fail."""
    attempts: tuple[int, ...]
    """Which attempts it stands for."""


@dataclass(frozen=True, slots=True)
class Bar:
    """One row: blocked (on dependencies) from `start`, waiting from `ready`, running from
    `run_start` (None: never started) to `end`, for the current attempt of its jobs; all epoch
    milliseconds, non-decreasing. `earlier` holds the attempts reruns replaced, drawn before."""

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
    earlier: tuple[Span, ...] = ()
    attempt: int = 1
    """The current attempt of a single job's row (for a group: the highest)."""
    reruns: int = 0
    """How many of its jobs were rerun."""

    @property
    def row_start(self) -> int:
        """Where the row begins: its first attempt's start."""
        return min([self.start, *(span.start for span in self.earlier)])


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


_Place = tuple[int, int, int | None, int]
_Row = tuple[_Place, JobTiming, tuple[tuple[_Place, JobTiming], ...]]


def bars(rows: Sequence[Sequence[JobTiming]], max_bars: int = MAX_BARS) -> list[Bar]:
    """The bars of the rows (each an index's attempts, oldest first) that have a timestamp:
    one each, or groups of equal size."""
    placed: list[_Row] = []
    for attempts in rows:
        *before, last = attempts
        place = _place(last)
        if place is None:
            continue
        earlier = tuple((p, t) for t in before if (p := _place(t)) is not None)
        placed.append((place, last, earlier))
    placed.sort(key=lambda row: (min([row[0][0], *(p[0] for p, _ in row[2])]), row[1].job.index))
    size = max(1, math.ceil(len(placed) / max(1, max_bars)))
    return [_bar(placed[i : i + size]) for i in range(0, len(placed), size)]


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


def _bar(members: list[_Row]) -> Bar:
    places = [p for p, _, _ in members]
    timings = [t for _, t, _ in members]
    starts = [p[2] for p in places if p[2] is not None]
    outcomes = Counter(outcome(t) for t in timings)
    start = min(p[0] for p in places)
    run_start = min(starts) if starts else None
    end = max(p[3] for p in places)
    ready_limit = run_start if run_start is not None else end
    failures = Counter(t.job.failure or UNKNOWN_FAILURE for t in timings if t.job.failed)
    replaced = [row for _, _, earlier in members for row in earlier]
    single = len(timings) == 1
    spans = tuple(_span([row]) for row in replaced) if single else _group_span(replaced)
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
        job_id=timings[0].job.job_id if single else None,
        earlier=spans,
        attempt=max(t.job.attempt for t in timings),
        reruns=sum(1 for _, _, earlier in members if earlier),
    )


def _group_span(replaced: list[tuple[_Place, JobTiming]]) -> tuple[Span, ...]:
    return (_span(replaced),) if replaced else ()


def _span(rows: list[tuple[_Place, JobTiming]]) -> Span:
    """One span over `rows` (attempts a rerun replaced): from the first start to the last end."""
    places = [p for p, _ in rows]
    timings = [t for _, t in rows]
    starts = [p[2] for p in places if p[2] is not None]
    run_start = min(starts) if starts else None
    end = max(p[3] for p in places)
    limit = run_start if run_start is not None else end
    failures = Counter(t.job.failure or UNKNOWN_FAILURE for t in timings if t.job.failed)
    kinds = sorted(failures, key=lambda k: (-failures[k], _failure_rank(k)))
    outcomes = Counter(outcome(t) for t in timings)
    return Span(
        start=min(p[0] for p in places),
        ready=min(*(p[1] for p in places), limit),
        run_start=run_start,
        end=end,
        outcome=next(o for o in OUTCOMES if o in outcomes),
        failure=kinds[0] if kinds else None,
        attempts=tuple(sorted({t.job.attempt for t in timings})),
    )


def _failure_rank(kind: str) -> tuple[int, str]:
    return (FAILURE_KINDS.index(kind) if kind in FAILURE_KINDS else len(FAILURE_KINDS), kind)


def main_failure(bar: Bar) -> str | None:
    """The failure kind most jobs of the bar failed with (ties: the first in FAILURE_KINDS)."""
    if not bar.failures:
        return None
    return max(bar.failures, key=lambda k: (bar.failures[k], -_failure_rank(k)[0]))
