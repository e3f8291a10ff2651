"""`Submitter`: SubmitJob with the contract's environment, governed, checked before the call.

Unit tests read the request it builds and answer SubmitJob with botocore's `Stubber`; the tests
on a MotoWorld add botocore's retries against injected throttling."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from botocore.stub import Stubber

from pcr_sdk import BatchId, BatchLayout, InvalidJobSpecError, RateGovernor, ThrottledError
from pcr_sdk._private.wire.facts import TAG_ATTEMPT, TAG_BATCH_ID, TAG_INDEX, TAG_SUBMISSION
from pcr_sdk.advanced import Submitter
from pcr_sdk.testing import Fault
from tests.support.fakes import FakeClock, NoCalls

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient

    from pcr_sdk.testing import MotoWorld


LAYOUT = BatchLayout("b_1")


def offline_submitter(batch: BatchClient, governor: RateGovernor | None = None) -> Submitter:
    return Submitter(batch, job_queue="q", bucket="bkt", layout=LAYOUT, job_definition="d:1",
                     governor=governor, token_factory=lambda: "token-1")  # fmt: skip


def test_a_request_carries_the_contract_its_index_and_the_callers_environment() -> None:
    submitter = offline_submitter(NoCalls().clients.batch)
    request = submitter.request(3, depends_on=["j1"], timeout_seconds=90,
                                environment={"EXTRA": "1", "BATCH_ID": "mine"})  # fmt: skip
    environment = {e["name"]: e["value"] for e in request["containerOverrides"]["environment"]}
    assert environment == {**LAYOUT.environment(bucket="bkt", index=3), "EXTRA": "1"}
    assert (request["jobName"], request["jobQueue"], request["jobDefinition"]) == (
        "b_1",
        "q",
        "d:1",
    )
    assert request["dependsOn"] == [{"jobId": "j1"}]
    assert request["timeout"] == {"attemptDurationSeconds": 90}
    assert request["tags"] == {TAG_BATCH_ID: "b_1", TAG_INDEX: "3"}
    rerun = submitter.request(3, attempt=2)
    assert rerun["tags"] == {TAG_BATCH_ID: "b_1", TAG_INDEX: "3", TAG_ATTEMPT: "2"}


def test_submit_is_governed_and_tags_its_request_to_be_found_after_a_lost_answer() -> None:
    batch = NoCalls().clients.batch
    clock = FakeClock()
    governor = RateGovernor(1, 1.0, clock=clock, sleep=clock.sleep)
    submitter = offline_submitter(batch, governor)
    with Stubber(batch) as stubbed:
        for job_id in ("j-0", "j-1"):
            request = submitter.request(0)
            expected = {**request, "tags": {**request["tags"], TAG_SUBMISSION: "token-1"}}
            stubbed.add_response("submit_job", {"jobId": job_id, "jobName": "b_1"}, expected)
        assert [submitter.submit(0), submitter.submit(0)] == ["j-0", "j-1"]
        stubbed.assert_no_pending_responses()
    assert clock.sleeps == [pytest.approx(1.0)]  # one call a second: the second waited


def test_terminate_sends_the_reason() -> None:
    batch = NoCalls().clients.batch
    with Stubber(batch) as stubbed:
        stubbed.add_response("terminate_job", {}, {"jobId": "j-0", "reason": "stopped by pcr"})
        offline_submitter(batch).terminate("j-0", "stopped by pcr")
        stubbed.assert_no_pending_responses()


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


@pytest.mark.integration
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


@pytest.mark.integration
def test_submitter_rejects_oversized_requests_before_calling(moto_world: MotoWorld) -> None:
    submitter = _submitter(moto_world)
    with pytest.raises(InvalidJobSpecError, match="8192"):
        submitter.submit(0, environment={"BIG": "x" * 9000})
    with pytest.raises(InvalidJobSpecError, match="at least 60"):
        submitter.submit(0, timeout_seconds=59)
    with pytest.raises(InvalidJobSpecError, match="at most 20"):
        submitter.submit(0, depends_on=[f"j{i}" for i in range(21)])
    assert moto_world.submitted() == []


@pytest.mark.integration
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


@pytest.mark.integration
def test_throttling_beyond_the_retry_budget_is_a_typed_error(moto_world: MotoWorld) -> None:
    moto_world.faults.add(service="batch", operation="SubmitJob", kind=Fault.THROTTLE, times=50)
    with pytest.raises(ThrottledError) as info:
        _submitter(moto_world).submit(0)
    assert info.value.operation == "SubmitJob"
    assert info.value.code == "TooManyRequestsException"
