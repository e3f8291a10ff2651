"""A lost answer: look before sending again, back off with jitter, never a duplicate."""

from __future__ import annotations

from typing import Any

import pytest

from pcr_sdk import JobSubmitter
from pcr_sdk.testing import Fault, MotoWorld
from tests.support.fakes import FakeClock
from tests.support.submitters import new_submitter

pytestmark = [pytest.mark.integration, pytest.mark.moto_world(polls_to_finish=1)]


def make(world: MotoWorld, clock: FakeClock | None = None, **kw: Any) -> JobSubmitter:
    return new_submitter(world, clock, **{"polling_interval_seconds": 60, **kw})


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
