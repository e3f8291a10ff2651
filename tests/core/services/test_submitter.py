"""`Submitter`: SubmitJob with the contract's environment, governed, checked before the call."""

from __future__ import annotations

import pytest

from pcr_sdk import BatchId, BatchLayout, InvalidJobSpecError, RateGovernor, ThrottledError
from pcr_sdk.advanced import Submitter
from pcr_sdk.testing import Fault, MotoWorld
from tests.support.fakes import FakeClock

pytestmark = pytest.mark.integration


def _submitter(world: MotoWorld, governor: RateGovernor | None = None) -> Submitter:
    layout = BatchLayout(str(BatchId.new("sub")))
    arn = world.register_job_definition(layout.batch_id)
    return Submitter(
        world.clients.batch,
        job_queue=world.queue,
        bucket=world.bucket,
        layout=layout,
        job_definition=arn,
        governor=governor,
    )


def test_submitter_sends_the_contract_and_is_governed(moto_world: MotoWorld) -> None:
    clock = FakeClock()
    governor = RateGovernor(2, 1.0, clock=clock, sleep=clock.sleep)
    submitter = _submitter(moto_world, governor)
    ids = [submitter.submit(i, environment={"EXTRA": "1"}) for i in range(5)]
    assert len(set(ids)) == 5
    assert clock.sleeps == [pytest.approx(1.0), pytest.approx(1.0)]  # 2 a second: waits at 3, 5
    calls = moto_world.submitted()
    assert [c.environment["S3_JOB_PREFIX"] for c in calls] == [
        submitter.layout.prefix(i) for i in range(5)
    ]
    assert calls[0].environment["EXTRA"] == "1"


def test_submitter_rejects_oversized_requests_before_calling(moto_world: MotoWorld) -> None:
    submitter = _submitter(moto_world)
    with pytest.raises(InvalidJobSpecError, match="8192"):
        submitter.submit(0, environment={"BIG": "x" * 9000})
    with pytest.raises(InvalidJobSpecError, match="at least 60"):
        submitter.submit(0, timeout_seconds=59)
    with pytest.raises(InvalidJobSpecError, match="at most 20"):
        submitter.submit(0, depends_on=[f"j{i}" for i in range(21)])
    assert moto_world.submitted() == []


def test_throttled_submit_is_retried_by_botocore_and_lands_once(moto_world: MotoWorld) -> None:
    handle = moto_world.faults.add(
        service="batch", operation="SubmitJob", kind=Fault.THROTTLE, times=3
    )
    submitter = _submitter(moto_world)
    job_id = submitter.submit(0)
    assert handle.injected == 3
    listed = moto_world.clients.batch.describe_jobs(jobs=[job_id])["jobs"]
    assert len(listed) == 1
    assert len(moto_world.submitted()) == 1


def test_throttling_beyond_the_retry_budget_is_a_typed_error(moto_world: MotoWorld) -> None:
    moto_world.faults.add(service="batch", operation="SubmitJob", kind=Fault.THROTTLE, times=50)
    with pytest.raises(ThrottledError) as info:
        _submitter(moto_world).submit(0)
    assert info.value.operation == "SubmitJob"
    assert info.value.code == "TooManyRequestsException"
