"""`Seams`: time and chance swapped as one object; the defaults are the real ones."""

from __future__ import annotations

import dataclasses
import random
import time
import uuid

import pytest

from pcr_sdk._private.seams import REAL, Seams
from tests.support.fakes import FakeClock


def test_the_defaults_are_the_real_clock_sleep_randomness_and_uuids() -> None:
    assert Seams() == REAL
    assert (REAL.clock, REAL.sleep) == (time.monotonic, time.sleep)
    assert (REAL.random_source, REAL.uuid_factory) == (random.random, uuid.uuid4)


def test_a_test_swaps_what_it_needs_and_the_rest_stays_real() -> None:
    clock = FakeClock()
    seams = Seams(clock=clock, sleep=clock.sleep)
    seams.sleep(5)
    assert seams.clock() == 1005.0
    assert seams.uuid_factory is uuid.uuid4
    with pytest.raises(dataclasses.FrozenInstanceError):
        seams.clock = time.time  # type: ignore[misc]
