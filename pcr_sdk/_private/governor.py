"""Client-side rate limiting with an injected clock and sleep."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Final, TypeAlias

from pcr_sdk._private.errors import PcrInputError

Clock: TypeAlias = Callable[[], float]
Sleep: TypeAlias = Callable[[float], None]


class RateGovernor:
    """Admit at most `max_calls` calls in any window of `period` seconds.

    A sliding window rather than a token bucket: a token bucket with a burst lets through up to
    burst + rate calls in one second, which is exactly what AWS's per-second quota punishes.
    With `max_calls=1` it is a minimum spacing between calls (the seed's request throttling).
    Thread-safe: each caller reserves its slot under the lock and sleeps outside it.
    """

    def __init__(
        self,
        max_calls: int,
        period: float = 1.0,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        if max_calls < 1:
            raise PcrInputError(f"max_calls must be >= 1, got {max_calls}")
        if period < 0:
            raise PcrInputError(f"period must be >= 0, got {period}")
        self.max_calls = max_calls
        self.period = period
        self._clock = clock
        self._sleep = sleep
        self._slots: deque[float] = deque(maxlen=max_calls)
        self._lock = threading.Lock()

    @classmethod
    def per_second(
        cls, rate: float, *, clock: Clock = time.monotonic, sleep: Sleep = time.sleep
    ) -> RateGovernor:
        """At most `rate` calls per second; a fractional rate becomes one call per 1/rate s."""
        if rate <= 0:
            raise PcrInputError(f"rate must be > 0, got {rate}")
        if rate >= 1 and float(rate).is_integer():
            return cls(int(rate), 1.0, clock=clock, sleep=sleep)
        return cls(1, 1.0 / rate, clock=clock, sleep=sleep)

    def acquire(self) -> float:
        """Block until a call may go out; return the seconds waited."""
        with self._lock:
            now = self._clock()
            slot = now
            if len(self._slots) == self.max_calls:
                oldest = self._slots[0]
                slot = max(now, oldest + self.period)
                while slot - oldest < self.period:  # keep the gap a full period as measured
                    slot = math.nextafter(slot, math.inf)
            self._slots.append(slot)
        if slot > now:
            self._sleep(slot - now)
            # `now + (slot - now)` can round to just below `slot`; one more exact step fixes it.
            # Never loop: an injected sleep need not move the injected clock.
            current = self._clock()
            if now < current < slot:
                self._sleep(slot - current)
        return slot - now


DEFAULT_BATCH_RATE: Final = 40.0
"""Batch calls per second; AWS's SubmitJob quota is 50 per account and region, not raisable."""

_shared: RateGovernor | None = None
_shared_lock = threading.Lock()


def shared_batch_governor() -> RateGovernor:
    """The process's one governor for Batch calls (real clock), created on first use."""
    global _shared  # noqa: PLW0603 - one governor per process is the point
    with _shared_lock:
        if _shared is None:
            _shared = RateGovernor.per_second(DEFAULT_BATCH_RATE)
        return _shared
