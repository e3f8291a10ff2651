"""A wait's timeout is a deadline: checked between any two calls, never slept past, and the
error says how long the wait really took (before: `timeout=2` raised after 4.3 s, `timeout=20`
after 253 s on a large batch, both saying "after 2.0 s" / "after 20.0 s")."""

from __future__ import annotations

from typing import Any

import pytest

from pcr_sdk import JobSubmitter, RateGovernor, SilentProgress, WaitTimeoutError
from pcr_sdk.advanced import Poller, Seams
from pcr_sdk.testing import MotoWorld
from tests.support.fakes import FakeBatch, FakeClock


class SlowBatch(FakeBatch):
    """Each DescribeJobs takes `seconds` of the fake clock (AWS's latency, or its throttling)."""

    def __init__(self, clock: FakeClock, polls: dict[str, int], seconds: float) -> None:
        super().__init__(clock, polls)
        self.seconds = seconds

    def describe_jobs(self, *, jobs: list[str]) -> dict[str, Any]:
        self.clock.advance(self.seconds)
        return super().describe_jobs(jobs=jobs)


def poller(batch: FakeBatch, clock: FakeClock, *, interval: float, spacing_ms: float) -> Poller:
    return Poller(
        batch.as_client(),
        polling_interval_seconds=interval,
        request_throttling_milliseconds=spacing_ms,
        seams=Seams(clock=clock, sleep=clock.sleep),
    )


def test_a_large_wait_stops_at_its_deadline_not_after_its_polling_cycle() -> None:
    """10,000 unfinished jobs are 100 DescribeJobs a cycle, each taking 1 s here: the deadline
    of 20 s falls inside the first cycle. The wait used to finish the cycle (about 100 s)."""
    clock = FakeClock()
    batch = SlowBatch(clock, {f"j{i}": 50 for i in range(10_000)}, seconds=1.0)
    with pytest.raises(WaitTimeoutError) as info:
        poller(batch, clock, interval=5, spacing_ms=200).wait(list(batch.polls), timeout=20)
    waited = clock.now - 1000.0
    assert waited <= 20 + batch.seconds  # the last call admitted at the deadline, at most
    assert len(batch.calls) <= 16  # one a second from 5 s on, and one at the deadline
    assert f"after {waited:.1f} s (timeout 20.0 s)" in str(info.value)
    assert len(info.value.unfinished) == 10_000


def test_no_pause_and_no_request_spacing_runs_past_the_deadline() -> None:
    clock = FakeClock()
    batch = FakeBatch(clock, {"a": 100})
    with pytest.raises(WaitTimeoutError) as info:
        poller(batch, clock, interval=60, spacing_ms=1500).wait(["a"], timeout=2)
    assert clock.now - 1000.0 == pytest.approx(2.0)
    assert all(sleep <= 2.0 for sleep in clock.sleeps)
    assert "after 2.0 s (timeout 2.0 s)" in str(info.value)


def test_the_timeout_counts_from_when_the_wait_started() -> None:
    """A wait that did other work first (the facade's flush and refresh) passes `started`."""
    clock = FakeClock()
    batch = FakeBatch(clock, {"a": 100})
    started = clock.now
    clock.advance(7.5)
    with pytest.raises(WaitTimeoutError) as info:
        poller(batch, clock, interval=1, spacing_ms=0).wait(["a"], timeout=10, started=started)
    assert clock.now - started == pytest.approx(10.0)
    assert "after 10.0 s (timeout 10.0 s)" in str(info.value)


def test_a_deadline_that_passed_before_the_first_call_sends_nothing() -> None:
    clock = FakeClock()
    batch = FakeBatch(clock, {"a": 3})
    started = clock.now
    clock.advance(5)
    with pytest.raises(WaitTimeoutError, match=r"after 5\.0 s \(timeout 1\.0 s\)"):
        poller(batch, clock, interval=0, spacing_ms=0).wait(["a"], timeout=1, started=started)
    assert batch.calls == []


@pytest.mark.integration
def test_the_facade_wait_is_honest_about_the_time_it_took() -> None:
    """Every DescribeJobs moves the world's clock one second on: the wait of 2 s used to run a
    whole cycle (its requests spaced by the seed's 200 ms) and name the timeout, not the time."""
    with MotoWorld(polls_to_finish=100) as world:
        seams = world.seams
        sub = JobSubmitter(
            "deadline", world.queue, "img", world.bucket, clients=world.clients,
            polling_interval_seconds=1, progress=SilentProgress(), seams=seams,
            governor=RateGovernor.per_second(1000, clock=seams.clock, sleep=seams.sleep),
        )  # fmt: skip
        sub.submit_jobs([{"i": i} for i in range(101)], array=False)  # two DescribeJobs a cycle
        started = world.clock()
        with pytest.raises(WaitTimeoutError) as info:
            sub.wait_until_jobs_finished(timeout=2)
        waited = world.clock() - started
        assert waited <= 3.0  # the deadline, plus the one request admitted at it
        assert f"after {waited:.1f} s (timeout 2.0 s)" in str(info.value)
        assert sub.closed
