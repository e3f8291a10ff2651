"""`pcr_sdk.handle_signals`: the opt-in signal handling the `pcr` command is built on.

The tests that send a real signal are marked `subprocess`; those with a batch `integration`.

Real signals to this process (`os.kill`), inside the block only: the handlers are restored
afterwards, so the test process never sees them.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any, cast

import pytest

from pcr_sdk import InterruptedBySignal, JobSubmitter, PcrError, SilentProgress, handle_signals
from pcr_sdk.advanced import Seams
from pcr_sdk.testing import MotoWorld

pytestmark = pytest.mark.moto_world(polls_to_finish=10)  # for the tests with a batch


def _kill_self(number: signal.Signals = signal.SIGTERM) -> None:
    os.kill(os.getpid(), number)


@pytest.fixture
def batch(moto_world: MotoWorld) -> tuple[MotoWorld, JobSubmitter]:
    """Three jobs submitted one by one, unfinished for ten polls."""
    submitter = JobSubmitter(
        "signals", moto_world.queue, "img", moto_world.bucket, clients=moto_world.clients,
        progress=SilentProgress(), seams=Seams(sleep=lambda s: None), gpus=0, vcpus=1,
    )  # fmt: skip
    submitter.submit_jobs([{"i": i} for i in range(3)], array=False)
    return moto_world, submitter


def _reasons(world: MotoWorld, submitter: JobSubmitter) -> set[str | None]:
    ids = [job.job_id for job in submitter.jobs]
    return {d.get("statusReason") for d in world.clients.batch.describe_jobs(jobs=ids)["jobs"]}


def test_handlers_live_only_inside_the_block() -> None:
    before = {n: signal.getsignal(n) for n in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    with handle_signals() as guard:
        inside = {n: signal.getsignal(n) for n in before}
        assert all(inside[n] is not before[n] for n in before)
        assert guard.signum is None
        assert guard.exit_code is None
    assert {n: signal.getsignal(n) for n in before} == before


@pytest.mark.subprocess  # a real signal to this process
@pytest.mark.parametrize(("number", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_becomes_an_exception_with_its_exit_code(
    number: signal.Signals, code: int
) -> None:
    with pytest.raises(InterruptedBySignal) as raised, handle_signals() as guard:
        _kill_self(number)
    assert isinstance(raised.value, KeyboardInterrupt)
    assert (raised.value.signum, raised.value.exit_code) == (number, code)
    assert str(raised.value) == f"interrupted by {number.name}"
    assert (guard.signum, guard.exit_code) == (number, code)


@pytest.mark.subprocess  # a real signal to this process
@pytest.mark.integration
def test_an_owner_cancels_the_batch(batch: tuple[MotoWorld, JobSubmitter]) -> None:
    world, submitter = batch
    with pytest.raises(InterruptedBySignal), handle_signals(submitter, owns=True) as guard:
        _kill_self()
    assert guard.cancelled is not None
    assert set(guard.cancelled) == {job.job_id for job in submitter.jobs}
    assert _reasons(world, submitter) == {"pcr-sdk: SIGTERM in the submitting process"}
    assert submitter._registry.deregistered


@pytest.mark.integration
def test_a_plain_keyboard_interrupt_cancels_too(batch: tuple[MotoWorld, JobSubmitter]) -> None:
    world, submitter = batch
    with pytest.raises(KeyboardInterrupt), handle_signals(submitter, reason="stop it"):
        raise KeyboardInterrupt
    assert _reasons(world, submitter) == {"stop it"}


@pytest.mark.subprocess  # a real signal to this process
@pytest.mark.integration
def test_a_watcher_leaves_the_jobs_running(batch: tuple[MotoWorld, JobSubmitter]) -> None:
    world, submitter = batch
    with pytest.raises(InterruptedBySignal), handle_signals(submitter, owns=False) as guard:
        _kill_self()
    assert guard.cancelled is None
    assert _reasons(world, submitter) == {None}
    assert not submitter._registry.deregistered


@pytest.mark.integration
def test_other_errors_leave_the_batch_alone(batch: tuple[MotoWorld, JobSubmitter]) -> None:
    world, submitter = batch
    with pytest.raises(ValueError, match="mine"), handle_signals(submitter, owns=True):
        raise ValueError("mine")
    assert _reasons(world, submitter) == {None}


class _SlowCancel:
    """Stands in for a JobSubmitter whose cancel is hit by a second signal."""

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self, reason: str, *, wait: bool) -> dict[str, Any]:
        _kill_self(signal.SIGTERM)
        _kill_self(signal.SIGINT)
        self.cancelled = True  # reached: the later signals did not cut the clean-up short
        return {}

    def get_batch_id(self) -> str:
        return "slow"


@pytest.mark.subprocess  # a real signal to this process
def test_later_signals_are_ignored_while_cleaning_up() -> None:
    slow = _SlowCancel()
    with (
        pytest.raises(InterruptedBySignal) as raised,
        handle_signals(cast("JobSubmitter", slow)) as guard,
    ):
        _kill_self(signal.SIGHUP)
    assert slow.cancelled
    assert raised.value.signum == signal.SIGHUP
    assert guard.ignored == 2


@pytest.mark.subprocess  # a real signal to this process
def test_nested_guards_act_as_one() -> None:
    with handle_signals() as outer:
        with pytest.raises(InterruptedBySignal), handle_signals():
            _kill_self()
        _kill_self()  # ignored: the outer guard is still cleaning up after the first
        assert outer.signum == signal.SIGTERM
        assert outer.ignored == 1
    with pytest.raises(InterruptedBySignal), handle_signals():  # a new outermost guard
        _kill_self()


@pytest.mark.subprocess  # a real signal to this process
def test_an_ignored_signal_stays_ignored() -> None:
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    try:
        with handle_signals() as guard:
            assert signal.SIGHUP not in guard.signals
            _kill_self(signal.SIGHUP)  # nothing happens
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_only_the_main_thread_can_handle_signals() -> None:
    failures: list[BaseException] = []

    def enter() -> None:
        try:
            with handle_signals():
                pass
        except PcrError as err:
            failures.append(err)

    thread = threading.Thread(target=enter)
    thread.start()
    thread.join()
    assert len(failures) == 1
    assert "main thread" in str(failures[0])
