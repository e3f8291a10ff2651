"""botocore handlers on pcr-sdk's own requests only: the caller's calls on a shared client keep
botocore's behaviour."""

from __future__ import annotations

from typing import Any

import pytest

from pcr_sdk import JobSubmitter, RateGovernor
from pcr_sdk.testing import Fault, MotoWorld
from tests.support.fakes import FakeClock
from tests.support.submitters import new_submitter

pytestmark = [
    pytest.mark.integration,
    pytest.mark.moto_world(polls_to_finish=1),
]  # every test here runs on a MotoWorld


def make(world: MotoWorld, clock: FakeClock | None = None, **kw: Any) -> JobSubmitter:
    return new_submitter(world, clock, **{"polling_interval_seconds": 60, **kw})


# -- 1. configuration first ----------------------------------------------------------------------


# -- 2. hooks that touch nothing else --------------------------------------------------------


def test_the_callers_own_calls_on_a_shared_client_keep_botocores_retries(
    moto_world: MotoWorld,
) -> None:
    """Defect 2: after JobSubmitter(clients=...), the caller's own submit_job on that client
    raised pcr-sdk's private AmbiguousCall on one HTTP 500 instead of being retried."""
    sub = make(moto_world)
    sub.submit_job({"mine": True})  # pcr-sdk's handlers are installed on the client now
    arn = moto_world.register_job_definition("callers-own")
    moto_world.faults.add(service="batch", operation="SubmitJob", kind=Fault.SERVER_ERROR, times=1)
    moto_world.faults.add(
        service="batch", operation="RegisterJobDefinition", kind=Fault.SERVER_ERROR, times=1
    )
    batch = moto_world.clients.batch
    job = batch.submit_job(jobName="callers-own", jobQueue=moto_world.queue, jobDefinition=arn)
    assert job["ResponseMetadata"]["RetryAttempts"] == 1  # botocore resent it, as it would
    again = batch.register_job_definition(
        jobDefinitionName="callers-own",
        type="container",
        containerProperties={"image": "x", "vcpus": 1, "memory": 128},
    )
    assert again["ResponseMetadata"]["RetryAttempts"] == 1
    sub.close()


def test_the_callers_throttled_calls_do_not_slow_pcr_sdk_down(moto_world: MotoWorld) -> None:
    clock = FakeClock()
    governor = RateGovernor.per_second(40, clock=clock, sleep=clock.sleep)
    sub = make(moto_world, clock, governor=governor)
    moto_world.faults.add(service="batch", operation="ListJobs", kind=Fault.THROTTLE, times=1)
    moto_world.clients.batch.list_jobs(jobQueue=moto_world.queue)
    assert governor.throttles == 0
    moto_world.faults.add(service="batch", operation="SubmitJob", kind=Fault.THROTTLE, times=1)
    sub.submit_job({})
    assert governor.throttles == 1
    assert governor.limit == 20  # halved: additive increase, multiplicative decrease
    sub.close()


# -- 3. lost answers ------------------------------------------------------------------------


# -- 4. one exception boundary ---------------------------------------------------------------


# -- 5. expiring credentials -------------------------------------------------------------------


# -- one governor, explicitly; one home for AWS facts -----------------------------------------
