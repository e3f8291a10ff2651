"""The rate governor with a fake clock: no 1-second window ever holds more calls than allowed;
AIMD on throttling (halved once per window, one call per window back, always in
[1, max_calls]), under hypothesis; and its lock, under real threads."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pcr_sdk import JobSubmitter, PcrInputError, RateGovernor, SilentProgress
from pcr_sdk.testing import MotoWorld
from tests.support.fakes import FakeClock

pytestmark = pytest.mark.moto_world(polls_to_finish=1)  # for the test on a MotoWorld


@given(
    rate=st.integers(min_value=1, max_value=60),
    gaps=st.lists(st.floats(min_value=0, max_value=0.2), min_size=1, max_size=250),
)
def test_no_one_second_window_exceeds_the_rate(rate: int, gaps: list[float]) -> None:
    clock = FakeClock()
    governor = RateGovernor.per_second(rate, clock=clock, sleep=clock.sleep)
    times = []
    for gap in gaps:
        clock.advance(gap)  # the caller's own work between calls
        governor.acquire()
        times.append(clock())
    # Any half-open window [t, t + 1) holds at most `rate` calls exactly when calls i and
    # i + rate are at least one second apart.
    for earlier, later in zip(times, times[rate:], strict=False):
        assert later - earlier >= 1.0
    assert times == sorted(times)


@given(
    spacing_ms=st.integers(min_value=0, max_value=1000),
    gaps=st.lists(st.floats(min_value=0, max_value=1.5), min_size=2, max_size=50),
)
def test_one_call_per_period_is_a_minimum_spacing(spacing_ms: int, gaps: list[float]) -> None:
    clock = FakeClock()
    governor = RateGovernor(1, spacing_ms / 1000, clock=clock, sleep=clock.sleep)
    times = []
    for gap in gaps:
        clock.advance(gap)
        governor.acquire()
        times.append(clock())
    for a, b in itertools.pairwise(times):
        assert b - a >= spacing_ms / 1000 - 1e-12


def test_governor_does_not_wait_when_idle_and_waits_when_full() -> None:
    clock = FakeClock()
    governor = RateGovernor(2, 1.0, clock=clock, sleep=clock.sleep)
    assert governor.acquire() == 0
    assert governor.acquire() == 0
    assert governor.acquire() == pytest.approx(1.0)
    assert clock.sleeps == [pytest.approx(1.0)]


def test_fractional_rate_spaces_calls() -> None:
    clock = FakeClock()
    governor = RateGovernor.per_second(0.5, clock=clock, sleep=clock.sleep)
    governor.acquire()
    governor.acquire()
    assert clock.sleeps == [pytest.approx(2.0)]


@pytest.mark.parametrize("rate", [0, -1.0])
def test_rate_must_be_positive(rate: float) -> None:
    with pytest.raises(ValueError, match="rate"):
        RateGovernor.per_second(rate)


def test_a_sleep_that_does_not_move_the_clock_never_hangs() -> None:
    sleeps: list[float] = []
    governor = RateGovernor(1, 0.5, clock=lambda: 0.0, sleep=sleeps.append)
    for _ in range(3):
        governor.acquire()
    assert sleeps == [0.5, 1.0]  # each reserved slot waited for once, then the call goes out


@pytest.mark.parametrize(
    "make",
    [
        lambda: RateGovernor(0),
        lambda: RateGovernor(5, period=-1.0),
        lambda: RateGovernor.per_second(0),
        lambda: RateGovernor.per_second(-3.5),
    ],
    ids=["no calls", "negative period", "zero rate", "negative rate"],
)
def test_a_governor_that_admits_nothing_is_rejected(make: Callable[[], RateGovernor]) -> None:
    with pytest.raises(PcrInputError):
        make()


@pytest.mark.integration
def test_submitters_share_one_governor_per_endpoint_unless_given_one(moto_world: MotoWorld) -> None:
    a = JobSubmitter("a", moto_world.queue, "img", moto_world.bucket, clients=moto_world.clients,
                     progress=SilentProgress())  # fmt: skip
    b = JobSubmitter("b", moto_world.queue, "img", moto_world.bucket, clients=moto_world.clients,
                     progress=SilentProgress())  # fmt: skip
    own = RateGovernor.per_second(5)
    c = JobSubmitter("c", moto_world.queue, "img", moto_world.bucket, clients=moto_world.clients,
                     progress=SilentProgress(), governor=own)  # fmt: skip
    assert a._submitter.governor is b._submitter.governor
    assert c._submitter.governor is own
    for sub in (a, b, c):
        sub.close()


def test_the_governor_halves_on_throttling_and_climbs_back() -> None:
    clock = FakeClock()
    governor = RateGovernor(40, 1.0, clock=clock, sleep=clock.sleep)
    governor.on_throttle()
    governor.on_throttle()  # within the same window: once only
    assert governor.limit == 20
    clock.advance(1.0)
    governor.on_throttle()
    assert governor.limit == 10
    clock.advance(5.0)
    assert governor.limit == 15  # one call per window back
    clock.advance(100.0)
    assert governor.limit == 40
    waits = [governor.acquire() for _ in range(41)]
    assert waits[:40] == [0.0] * 40
    assert waits[40] > 0


EVENTS = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.floats(min_value=0, max_value=3)),
        st.tuples(st.just("throttle"), st.just(0.0)),
        st.tuples(st.just("acquire"), st.just(0.0)),
    ),
    max_size=120,
)


@given(max_calls=st.integers(1, 60), period=st.sampled_from([0.5, 1.0, 2.0]), events=EVENTS)
def test_the_limit_stays_between_1_and_max_calls(
    max_calls: int, period: float, events: list[tuple[str, float]]
) -> None:
    clock = FakeClock()
    governor = RateGovernor(max_calls, period, clock=clock, sleep=clock.sleep)
    before = governor.limit
    for kind, seconds in events:
        if kind == "advance":
            clock.advance(seconds)
        elif kind == "throttle":
            governor.on_throttle()
        else:
            governor.acquire()
        limit = governor.limit
        assert 1 <= limit <= max_calls
        if kind == "throttle":
            assert limit in (before, max(1, before // 2))  # halved, or once per window only
        before = limit
    clock.advance(period * (max_calls + 1))
    assert governor.limit == max_calls  # every throttle forgiven in time


@given(
    max_calls=st.integers(1, 60),
    warmup=st.lists(st.floats(min_value=0, max_value=0.5), max_size=80),
    gaps=st.lists(st.floats(min_value=0, max_value=0.1), min_size=1, max_size=150),
)
def test_the_first_window_after_a_throttle_admits_no_more_than_the_halved_limit(
    max_calls: int, warmup: list[float], gaps: list[float]
) -> None:
    clock = FakeClock()
    governor = RateGovernor(max_calls, 1.0, clock=clock, sleep=clock.sleep)
    for gap in warmup:  # calls before the throttle, at any pace
        clock.advance(gap)
        governor.acquire()
    halved = max(1, governor.limit // 2)
    governor.on_throttle()
    throttled_at = clock()
    slots = []
    for gap in gaps:  # the caller's own work between calls
        clock.advance(gap)
        started = clock()
        slots.append(started + governor.acquire())  # when the call went out
    in_first_window = [s for s in slots if throttled_at <= s < throttled_at + 1.0]
    assert len(in_first_window) <= halved


def test_concurrent_callers_never_share_a_slot_or_overfill_a_window() -> None:
    """Eight real threads, one governor: each reserves its slot under the lock."""
    governor = RateGovernor(5, 1.0, clock=lambda: 0.0, sleep=lambda seconds: None)
    slots: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(8, timeout=10)

    def caller() -> None:
        start.wait()
        for _ in range(50):
            waited = governor.acquire()  # the clock stands at 0: the slot is the wait
            governor.on_throttle()  # racing the limit down, while others acquire
            with lock:
                slots.append(waited)

    threads = [threading.Thread(target=caller) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(slots) == 400
    assert governor.throttles == 400  # no update lost
    ordered = sorted(slots)
    for earlier, later in zip(ordered, ordered[5:], strict=False):
        assert later - earlier >= 1.0  # at most max_calls in any window, whatever the limit
    assert governor.limit == 2  # 5 halved once: the clock never left its first window
