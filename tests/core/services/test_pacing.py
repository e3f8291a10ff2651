"""`Pacing`: the pause before each poll (fixed, or adaptive with jitter), deadlines, expiry."""

from __future__ import annotations

import pytest

from pcr_sdk._private.model.settings import PollSettings
from pcr_sdk._private.seams import Seams
from pcr_sdk._private.services.pacing import JITTER, Pacing
from tests.support.fakes import FakeClock


def pacing(random: float = 0.5, **settings: object) -> tuple[Pacing, FakeClock]:
    clock = FakeClock()
    seams = Seams(clock=clock, sleep=clock.sleep, random_source=lambda: random)
    return Pacing(PollSettings.model_validate(settings), seams), clock


def test_a_fixed_interval_never_changes_and_never_jitters() -> None:
    fixed, clock = pacing(random=0.99, interval_seconds=30)
    assert fixed.first_interval() == 30
    assert fixed.next_interval(30, changed=True) == 30
    fixed.pause(30, deadline=None)
    assert clock.sleeps == [30]


def test_an_adaptive_interval_doubles_while_idle_and_drops_back_on_a_change() -> None:
    adaptive, _ = pacing(interval_seconds=8, adaptive=True, min_interval_seconds=1)
    intervals = [adaptive.first_interval()]
    for _ in range(5):
        intervals.append(adaptive.next_interval(intervals[-1], changed=False))
    assert intervals == [1, 2, 4, 8, 8, 8]
    assert adaptive.next_interval(8, changed=True) == 1


@pytest.mark.parametrize("random", [0.0, 0.5, 0.999])
def test_an_adaptive_pause_jitters_by_ten_percent_at_most(random: float) -> None:
    adaptive, clock = pacing(random=random, interval_seconds=8, adaptive=True)
    adaptive.pause(4, deadline=None)
    assert 4 * (1 - JITTER) <= clock.sleeps[-1] <= 4 * (1 + JITTER)


def test_no_pause_runs_past_the_deadline() -> None:
    fixed, clock = pacing(interval_seconds=60)
    deadline = fixed.deadline(10)
    fixed.pause(60, deadline)
    fixed.pause(60, deadline)
    assert clock.sleeps == [10, 0]
    assert fixed.deadline(None) is None


def test_a_job_expires_only_when_two_looks_the_expiry_apart_both_miss_it() -> None:
    paced, clock = pacing(expiry_seconds=5)
    missing = paced.missing()
    assert missing.expired(["a", "b"], {"b": 1}) == []  # first miss of a
    clock.advance(4)
    assert missing.expired(["a", "b"], {}) == []  # a missed 4 s apart; b's first miss
    clock.advance(1)
    assert missing.expired(["a", "b"], {"b": 1}) == ["a"]  # b came back: its miss forgotten
    clock.advance(10)
    assert missing.expired(["b"], {}) == []  # b's miss starts over
