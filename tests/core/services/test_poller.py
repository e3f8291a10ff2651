"""The Poller against a scripted Batch and a fake clock: costs, spacing, callbacks, timeouts."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pcr_sdk import JobStatus, PcrInputError, PollProgress, WaitTimeoutError
from pcr_sdk.advanced import JobState, Poller, Seams
from tests.support.fakes import FakeBatch, FakeClock


def make(
    polls: dict[str, int], *, interval: float = 60, throttle_ms: float = 200, **kw: list[str]
) -> tuple[Poller, FakeBatch, FakeClock]:
    clock = FakeClock()
    batch = FakeBatch(clock, polls, **kw)
    poller = Poller(
        batch.as_client(),
        polling_interval_seconds=interval,
        request_throttling_milliseconds=throttle_ms,
        seams=Seams(clock=clock, sleep=clock.sleep),
    )
    return poller, batch, clock


@given(
    polls=st.lists(st.integers(min_value=0, max_value=6), min_size=1, max_size=260),
    interval=st.integers(min_value=0, max_value=120),
    throttle_ms=st.integers(min_value=0, max_value=1000),
    failed=st.sets(st.integers(min_value=0, max_value=259)),
)
def test_polling_rules(polls: list[int], interval: int, throttle_ms: int, failed: set[int]) -> None:
    ids = {f"job-{i}": n for i, n in enumerate(polls)}
    failing = [f"job-{i}" for i in failed if i < len(polls)]
    poller, batch, clock = make(ids, interval=interval, throttle_ms=throttle_ms, failed=failing)
    finished: list[str] = []
    progress: list[PollProgress] = []

    states = poller.wait(
        ids, on_finished=lambda s: finished.append(s.job_id), on_progress=progress.append
    )

    # every callback exactly once, every job final, failures as scripted
    assert sorted(finished) == sorted(ids)
    assert {i for i, s in states.items() if s.status is JobStatus.FAILED} == set(failing)
    assert all(s.status.is_finished for s in states.values())
    # at most 100 ids a request, and never about a job already seen finished
    seen_finished: set[str] = set()
    for (_, asked), reported in zip(batch.calls, batch.reported_finished, strict=True):
        assert len(asked) <= 100
        assert not seen_finished & set(asked)
        seen_finished |= reported
    # consecutive DescribeJobs requests never closer than the throttle
    times = [t for t, _ in batch.calls]
    for a, b in itertools.pairwise(times):
        assert b - a >= throttle_ms / 1000 - 1e-9
    # one sleep of the polling interval per cycle; throttle waits are the only other sleeps
    cycles = max(polls) + 1
    assert [p.cycle for p in progress] == list(range(1, cycles + 1))
    assert clock.sleeps.count(interval) >= cycles
    assert progress[-1].finished == len(ids)


def test_only_unfinished_jobs_are_described_in_chunks_of_100() -> None:
    ids = {f"j{i}": (0 if i < 150 else 2) for i in range(250)}
    poller, batch, _ = make(ids, throttle_ms=0)
    poller.wait(ids)
    sizes = [len(asked) for _, asked in batch.calls]
    assert sizes == [100, 100, 50, 100, 100]  # cycle 1: all 250; cycles 2, 3: the 100 left


def test_known_finished_jobs_are_skipped_and_get_no_callback() -> None:
    poller, batch, _ = make({"a": 0, "b": 0})
    done = JobState(job_id="a", status=JobStatus.SUCCEEDED)
    called: list[str] = []
    poller.wait(["a", "b"], known={"a": done}, on_finished=lambda s: called.append(s.job_id))
    assert called == ["b"]
    assert [asked for _, asked in batch.calls] == [["b"]]


def test_nothing_to_wait_for_returns_without_sleeping() -> None:
    poller, batch, clock = make({})
    assert poller.wait([]) == {}
    assert clock.sleeps == []
    assert batch.calls == []


def test_failure_details_are_read() -> None:
    poller, _, _ = make({"a": 1}, failed=["a"])
    state = poller.wait(["a"])["a"]
    assert state.status is JobStatus.FAILED
    assert state.exit_code == 3
    assert state.status_reason == "Essential container in task exited"
    assert state.log_stream_name == "s"
    assert state.attempts == 1


def test_timeout_names_the_unfinished_jobs() -> None:
    poller, _, clock = make({"fast": 0, "slow": 100}, interval=10)
    with pytest.raises(WaitTimeoutError) as info:
        poller.wait(["fast", "slow"], timeout=35)
    assert set(info.value.unfinished) == {"slow"}
    assert info.value.unfinished["slow"] == "STARTING"  # 4th describe: cycles at 10, 20, 30, 40 s
    assert isinstance(info.value, TimeoutError)
    assert clock.now - 1000.0 < 50


def test_a_job_aws_forgot_keeps_the_wait_going_until_timeout() -> None:
    poller, _, _ = make({"gone": 0}, forget=["gone"], interval=1)
    with pytest.raises(WaitTimeoutError) as info:
        poller.wait(["gone"], timeout=5)
    assert info.value.unfinished == {"gone": "UNKNOWN"}


def test_negative_intervals_are_rejected() -> None:
    with pytest.raises(PcrInputError, match="greater than or equal to 0"):
        Poller(FakeBatch(FakeClock(), {}).as_client(), polling_interval_seconds=-1)


def test_adaptive_interval_backs_off_while_idle_and_jitters() -> None:
    clock = FakeClock()
    batch = FakeBatch(clock, {"slow": 5, "fast": 0})
    draws = iter([0.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5])
    poller = Poller(
        batch.as_client(),
        polling_interval_seconds=8,
        request_throttling_milliseconds=0,
        adaptive=True,
        min_interval_seconds=1,
        seams=Seams(clock=clock, sleep=clock.sleep, random_source=lambda: next(draws)),
    )
    poller.wait(["slow", "fast"])
    # 1 s (-10 %), a change resets to 1 s (+10 %), then 2, 4, 8, 8 while nothing finishes,
    # and the last cycle finds "slow" done
    assert clock.sleeps == pytest.approx([0.9, 1.1, 2, 4, 8, 8])


def test_fixed_interval_is_the_default_and_has_no_jitter() -> None:
    clock = FakeClock()
    batch = FakeBatch(clock, {"a": 2})
    poller = Poller(
        batch.as_client(), polling_interval_seconds=5, request_throttling_milliseconds=0,
        seams=Seams(clock=clock, sleep=clock.sleep, random_source=lambda: 1.0),
    )  # fmt: skip
    poller.wait(["a"])
    assert clock.sleeps == [5, 5, 5]
