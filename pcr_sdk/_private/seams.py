"""`Seams`: the clock, sleep, random numbers and UUIDs a batch runs on, swapped as one in tests."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

from pcr_sdk._private.public import public

Clock: TypeAlias = Callable[[], float]
"""Monotonic seconds."""
Sleep: TypeAlias = Callable[[float], None]
"""Waits the given seconds."""
RandomSource: TypeAlias = Callable[[], float]
"""Random numbers in [0, 1)."""
UuidFactory: TypeAlias = Callable[[], uuid.UUID]
"""Makes a random (version 4) UUID."""


@public("pcr_sdk.advanced")
@dataclass(frozen=True)
class Seams:
    """What makes a run depend on time and chance: pass one `Seams` to make it deterministic.

    `JobSubmitter`, `JobSubmitter.attach`, `BatchStatus.fetch` and `Poller` take it as
    `seams=`; the defaults are the real clock, `time.sleep`, `random.random`, `uuid.uuid4` and
    a heartbeat thread.
    A test passes a virtual clock and a sleep that advances it (`MotoWorld.seams` is one), so
    that nothing sleeps for real.
    """

    clock: Clock = time.monotonic
    """Monotonic seconds: deadlines, poll spacing, expiry."""
    sleep: Sleep = time.sleep
    """How to wait (`lambda _: None` never waits)."""
    random_source: RandomSource = random.random
    """The jitter's random numbers in [0, 1)."""
    uuid_factory: UuidFactory = uuid.uuid4
    """Makes the batch id's UUID."""
    heartbeat: bool = True
    """Renew an open session of the batch (and the rerun lease) from a background thread, on
    the real clock, so that other processes know this one is alive. A test on a virtual clock
    turns it off: a thread on real time would make the run depend on how long it takes (its
    sessions then go stale on the other processes' clocks, or it calls `beat` itself)."""


REAL: Seams = Seams()
"""The real clock, sleep, randomness and UUIDs."""
