"""Client-side rate limiting with an injected clock and sleep, slowing down when AWS throttles."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Hashable
from typing import TYPE_CHECKING, Final

from pcr_sdk._private.errors import PcrInputError
from pcr_sdk._private.model.settings import count, positive, seconds
from pcr_sdk._private.public import public
from pcr_sdk._private.seams import Clock, Sleep

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient


@public("pcr_sdk")
class RateGovernor:
    """Admit at most `max_calls` calls in any window of `period` seconds.

    A sliding window rather than a token bucket: a token bucket with a burst lets through up to
    burst + rate calls in one second, which is exactly what AWS's per-second quota punishes.
    With `max_calls=1` it is a minimum spacing between calls (the seed's request throttling).

    When AWS throttles anyway (other processes share the account's quota), `on_throttle()`
    halves the admitted calls per window (at most once per window) and each window without
    throttling adds one back, up to `max_calls`: additive increase, multiplicative decrease,
    so several processes converge on a shared quota without failing.
    Thread-safe: each caller reserves its slot under the lock and sleeps outside it.

    Args:
        max_calls: calls admitted per window (an integer, at least 1).
        period: the window's length in seconds (finite, at least 0).
        clock: monotonic seconds, for tests.
        sleep: how to wait, for tests.

    Raises:
        PcrInputError: `max_calls` or `period` is out of range.
    """

    def __init__(
        self,
        max_calls: int,
        period: float = 1.0,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.max_calls = count("max_calls", max_calls)
        self.period = seconds("period", period)
        self._clock = clock
        self._sleep = sleep
        self._slots: deque[float] = deque(maxlen=max_calls)
        self._limit = float(max_calls)
        self._adjusted_at: float | None = None
        self._lock = threading.Lock()
        self.throttles = 0
        """How often AWS throttled a call this governor admitted."""

    @classmethod
    def per_second(
        cls, rate: float, *, clock: Clock = time.monotonic, sleep: Sleep = time.sleep
    ) -> RateGovernor:
        """At most `rate` calls per second; a fractional rate becomes one call per 1/rate s.

        Args:
            rate: calls per second (finite, above 0).
            clock: monotonic seconds, for tests.
            sleep: how to wait, for tests.

        Returns:
            The governor.

        Raises:
            PcrInputError: `rate` is not above 0, or not finite.
        """
        rate = positive("rate", rate)
        if rate >= 1 and rate.is_integer():
            return cls(int(rate), 1.0, clock=clock, sleep=sleep)
        return cls(1, 1.0 / rate, clock=clock, sleep=sleep)

    @property
    def limit(self) -> int:
        """Calls admitted per window now (lower than `max_calls` after throttling)."""
        with self._lock:
            self._recover(self._clock())
            return int(self._limit)

    def acquire(self) -> float:
        """Block until a call may go out.

        Returns:
            The seconds waited (0.0 when the call could go at once).
        """
        waited = self._acquire(None)
        return 0.0 if waited is None else waited  # without a deadline a slot is always taken

    def acquire_before(self, deadline: float) -> float | None:
        """Like `acquire`, but only for a slot no later than `deadline` (a clock time).

        Args:
            deadline: the latest clock time the call may go out at.

        Returns:
            The seconds waited; None, at once and with no slot taken, when the next slot is
            after `deadline` (the caller gives up rather than sleep past it).
        """
        return self._acquire(deadline)

    def _acquire(self, deadline: float | None) -> float | None:
        with self._lock:
            now = self._clock()
            self._recover(now)
            limit = int(self._limit)
            slot = now
            if len(self._slots) >= limit:
                oldest = self._slots[-limit]
                slot = max(now, oldest + self.period)
                while slot - oldest < self.period:  # keep the gap a full period as measured
                    slot = math.nextafter(slot, math.inf)
            if self._slots and slot < self._slots[-1]:
                slot = self._slots[-1]
            if deadline is not None and slot > deadline:
                return None
            self._slots.append(slot)
        if slot > now:
            self._sleep(slot - now)
            # `now + (slot - now)` can round to just below `slot`; one more exact step fixes it.
            # Never loop: an injected sleep need not move the injected clock.
            current = self._clock()
            if now < current < slot:
                self._sleep(slot - current)
        return slot - now

    def on_throttle(self) -> None:
        """AWS throttled a call: halve the calls per window (once per window at most)."""
        with self._lock:
            now = self._clock()
            self.throttles += 1
            if self._adjusted_at is not None and now - self._adjusted_at < self.period:
                return
            self._limit = max(1.0, math.floor(self._limit / 2))
            self._adjusted_at = now

    def _recover(self, now: float) -> None:
        """One call per window back for each whole window since the last change."""
        if self._adjusted_at is None or self._limit >= self.max_calls or self.period == 0:
            return
        windows = math.floor((now - self._adjusted_at) / self.period)
        if windows > 0:
            self._limit = min(float(self.max_calls), self._limit + windows)
            self._adjusted_at += windows * self.period


DEFAULT_BATCH_RATE: Final = 40.0
"""Batch calls per second; AWS's SubmitJob quota is 50 per account and region, not raisable."""

_shared: dict[Hashable, RateGovernor] = {}
_shared_lock = threading.Lock()


def shared_batch_governor(key: Hashable = None) -> RateGovernor:
    """The process's one governor for Batch calls to endpoint `key` (real clock).

    JobSubmitters key it by region and endpoint URL: the quota is per account and region, and
    the account is not known without a network call, so two accounts in one region share one
    governor (slower than needed, never faster).
    """
    with _shared_lock:
        governor = _shared.get(key)
        if governor is None:
            governor = _shared[key] = RateGovernor.per_second(DEFAULT_BATCH_RATE)
        return governor


def governor_for(batch: BatchClient, governor: RateGovernor | None = None) -> RateGovernor:
    """`governor`, else the process's shared one for `batch`'s region and endpoint."""
    if governor is not None:
        if not isinstance(governor, RateGovernor):
            raise PcrInputError(f"governor must be a RateGovernor, not {type(governor).__name__}")
        return governor
    return shared_batch_governor((batch.meta.region_name, batch.meta.endpoint_url))
