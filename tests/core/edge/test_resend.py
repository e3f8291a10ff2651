"""A lost answer: look before sending again, back off with jitter, never a duplicate.

`send_once` on its own with scripted sends and looks; then SubmitJob through the whole SDK on a
MotoWorld whose faults lose answers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pcr_sdk import AwsError, JobSubmitter
from pcr_sdk._private.edge.hooks import AmbiguousCall
from pcr_sdk._private.edge.resend import MAX_BACKOFF_SECONDS, LostAnswerPolicy, send_once
from pcr_sdk.testing import Fault, MotoWorld
from tests.support.fakes import FakeClock
from tests.support.submitters import new_submitter

pytestmark = pytest.mark.moto_world(polls_to_finish=1)  # for the tests on a MotoWorld


def sends(*outcomes: str | None) -> Callable[[], str]:
    """A send that loses its answer (None) or returns the next outcome, in order."""
    left = list(outcomes)

    def send() -> str:
        outcome = left.pop(0)
        if outcome is None:
            raise AmbiguousCall("HTTP 500")
        return outcome

    return send


def policy(clock: FakeClock, attempts: int = 3) -> LostAnswerPolicy:
    return LostAnswerPolicy(attempts, settle_seconds=2.0, sleep=clock.sleep, random=lambda: 1.0)


def test_an_applied_call_is_found_on_the_first_look_and_not_sent_again() -> None:
    clock = FakeClock()
    looks = iter(["job-1"])
    found = send_once(sends(None), lambda: next(looks), operation="SubmitJob", policy=policy(clock))
    assert found == "job-1"
    assert clock.sleeps == []  # found at once: no settle delay, no backoff


def test_a_second_look_after_the_settle_delay_comes_before_a_resend() -> None:
    clock = FakeClock()
    looks = iter([None, None, None, "late"])
    answer = send_once(
        sends(None, None), lambda: next(looks), operation="SubmitJob", policy=policy(clock)
    )
    assert answer == "late"  # the second send was lost too; its second look found it
    assert clock.sleeps == [2.0, 2.0, 2.0]  # settle, backoff of attempt 1 (1.0 x 2), settle


def test_every_answer_lost_is_an_aws_error_after_the_attempts() -> None:
    clock = FakeClock()
    with pytest.raises(AwsError, match="failed 4 times without an answer") as raised:
        send_once(sends(None, None, None, None), lambda: None, operation="SubmitJob",
                  policy=policy(clock, attempts=4), job_queue="q")  # fmt: skip
    assert isinstance(raised.value.__cause__, AmbiguousCall)
    assert raised.value.job_queue == "q"
    # a settle delay after each lost answer; before each resend a backoff of 2, 4, 8 s
    assert clock.sleeps == [2.0, 2.0, 2.0, 4.0, 2.0, 8.0, 2.0]


def test_the_backoff_is_full_jitter_capped_like_botocores() -> None:
    jitter = LostAnswerPolicy(random=lambda: 0.25)
    assert [jitter.backoff(n) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert LostAnswerPolicy(random=lambda: 0.999).backoff(10) < MAX_BACKOFF_SECONDS


def make(world: MotoWorld, clock: FakeClock | None = None, **kw: Any) -> JobSubmitter:
    return new_submitter(world, clock, **{"polling_interval_seconds": 60, **kw})


@pytest.mark.integration
def test_lost_answers_back_off_with_jitter_before_sending_again(moto_world: MotoWorld) -> None:
    """Defect 3: four immediate resends (no backoff) failed a submit within 20 ms."""
    clock = FakeClock()
    sub = make(moto_world, clock, random_source=lambda: 0.5, lost_answer_settle_seconds=3.0)
    moto_world.faults.add(service="batch", operation="SubmitJob", kind=Fault.SERVER_ERROR, times=4)
    clock.sleeps.clear()
    sub.submit_job({})
    assert [s for s in clock.sleeps if s not in (3.0, 0.0)] == [1.0, 2.0, 4.0, 8.0]
    assert clock.sleeps.count(3.0) == 4  # a settle delay before each second look
    assert len([v for v in moto_world.jobs() if v.job_name == sub.get_batch_id()]) == 1
    sub.close()


@pytest.mark.integration
def test_listing_lag_does_not_turn_a_lost_answer_into_a_duplicate(moto_world: MotoWorld) -> None:
    """Defect 3: ListJobs is eventually consistent; one look then a resend made a duplicate."""
    sub = make(moto_world)
    lag = moto_world.faults.delay_listing(answers=1)
    moto_world.faults.add(service="batch", operation="SubmitJob", kind=Fault.LOST_RESPONSE, times=1)
    job_id = sub.submit_job({"n": 1})
    mine = [v for v in moto_world.jobs() if v.job_name == sub.get_batch_id()]
    assert [v.job_id for v in mine] == [job_id]
    assert lag.hidden >= 1  # the first look really missed it
    sub.close()
