"""Client-side rate limiting with an injected clock and sleep."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TypeAlias

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
            raise ValueError(f"max_calls must be >= 1, got {max_calls}")
        if period < 0:
            raise ValueError(f"period must be >= 0, got {period}")
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
            raise ValueError(f"rate must be > 0, got {rate}")
        if rate >= 1 and float(rate).is_integer():
            return cls(int(rate), 1.0, clock=clock, sleep=sleep)
        return cls(1, 1.0 / rate, clock=clock, sleep=sleep)

    def acquire(self) -> float:
        """Block until a call may go out; return the seconds waited."""
        with self._lock:
            now = self._clock()
            slot = now
            if len(self._slots) == self.max_calls:
                slot = max(now, self._slots[0] + self.period)
            self._slots.append(slot)
        wait = slot - now
        if wait > 0:
            self._sleep(wait)
        return wait
