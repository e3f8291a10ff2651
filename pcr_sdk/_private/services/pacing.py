"""How a wait spends its time: the pause before each poll, adaptive backoff, deadlines, expiry.

A wait's deadline holds between any two of its calls: every request a wait makes is admitted
through `Pacing.admit`, which never lets a request out (nor sleeps) past the deadline of the
wait under way (`Pacing.bounded`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import Final

from pcr_sdk._private.edge.governor import RateGovernor
from pcr_sdk._private.model.settings import PollSettings
from pcr_sdk._private.seams import Seams

JITTER: Final = 0.1
"""An adaptive pause varies by +-10 %."""

_DEADLINE: ContextVar[float | None] = ContextVar("pcr_sdk_wait_deadline", default=None)
"""The clock time the wait under way in this thread must end by (None: no wait, or no limit)."""


class DeadlineReached(Exception):
    """The wait under way reached its deadline before its next request (a wait turns this
    into `WaitTimeoutError`, which names its jobs)."""


@contextmanager
def bounded(deadline: float | None) -> Iterator[None]:
    """The requests made inside the block (in this thread) go out only until `deadline` (a
    clock time of the pacing that admits them): past it, `Pacing.admit` raises
    `DeadlineReached`."""
    token = _DEADLINE.set(deadline)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


class Pacing:
    """The clock and sleep of one poller, with its interval rules (shared by its waits).

    A plain wait pauses `interval_seconds` before every poll. An adaptive one starts at
    `min_interval_seconds`, returns there after a poll that saw a change, and doubles (up to
    the interval) while nothing changes, with +-10 % jitter. No pause runs past a deadline.
    """

    def __init__(self, settings: PollSettings, seams: Seams) -> None:
        self.settings = settings
        self._seams = seams
        self.min_interval = min(settings.min_interval_seconds, settings.interval_seconds)

    def now(self) -> float:
        """The clock's monotonic seconds."""
        return self._seams.clock()

    def deadline(self, timeout: float | None, started: float | None = None) -> float | None:
        """When a wait of `timeout` seconds that started at `started` (default: now) must end
        (None: never)."""
        return None if timeout is None else (self.now() if started is None else started) + timeout

    def bounded(self, deadline: float | None) -> AbstractContextManager[None]:
        """The requests made inside the block (in this thread) are admitted only before
        `deadline`: `admit` raises `DeadlineReached` instead."""
        return bounded(deadline)

    def admit(self, spacing: RateGovernor, governor: RateGovernor | None = None) -> None:
        """Before one request: wait for the request spacing (on this pacing's clock) and the
        governor, but never past the deadline of the wait under way (a request may still go
        out at the deadline itself: a last look). Past it, or when the spacing's next slot
        comes after it, sleep until it and raise `DeadlineReached`. The governor keeps its own
        clock (a shared one may be real while this is virtual): only its result is checked."""
        deadline = _DEADLINE.get()
        if deadline is None:
            spacing.acquire()
            if governor is not None:
                governor.acquire()
            return
        if self.now() > deadline:
            raise DeadlineReached
        if spacing.acquire_before(deadline) is None:
            self._seams.sleep(max(deadline - self.now(), 0.0))
            raise DeadlineReached
        if governor is not None:
            governor.acquire()
        if self.now() > deadline:
            raise DeadlineReached

    def first_interval(self) -> float:
        """The pause before a wait's first poll."""
        return self.min_interval if self.settings.adaptive else self.settings.interval_seconds

    def pause(self, interval: float, deadline: float | None) -> None:
        """Sleep `interval` (jittered when adaptive), never past `deadline`."""
        pause = interval
        if self.settings.adaptive:
            pause *= 1 + JITTER * (2 * self._seams.random_source() - 1)
        if deadline is not None:
            pause = min(pause, max(deadline - self.now(), 0.0))
        self._seams.sleep(pause)

    def next_interval(self, interval: float, *, changed: bool) -> float:
        """The pause after a poll that did (or did not) see a change."""
        if not self.settings.adaptive:
            return interval
        if changed:
            return self.min_interval
        return min(max(interval, 1e-3) * 2, self.settings.interval_seconds)

    def missing(self) -> Missing:
        """A tracker of the jobs DescribeJobs omits, expiring them by this pacing's rule."""
        return Missing(self, self.settings.expiry_seconds)


class Missing:
    """Jobs DescribeJobs omitted: since when, and whether two looks far enough apart agree."""

    def __init__(self, pacing: Pacing, expiry_seconds: float) -> None:
        self._pacing = pacing
        self._expiry = expiry_seconds
        self._since: dict[str, float] = {}

    def expired(self, asked: Iterable[str], returned: Mapping[str, object]) -> list[str]:
        """The ids among `asked` that two looks at least the expiry apart both missed."""
        now = self._pacing.now()
        gone: list[str] = []
        for job_id in asked:
            if job_id in returned:
                self._since.pop(job_id, None)
                continue
            first = self._since.setdefault(job_id, now)
            if first < now and now - first >= self._expiry:
                gone.append(job_id)
        return gone
