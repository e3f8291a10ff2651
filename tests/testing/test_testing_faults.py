"""Faults go through botocore's real retry logic, and faulted attempts never reach the mock."""

from __future__ import annotations

from collections.abc import Iterator
from unittest import mock

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from pcr_sdk.testing import Fault, FaultInjector, MotoWorld
from tests.support.jobs import Jobs

pytestmark = pytest.mark.integration

TOTAL_ATTEMPTS = 8  # pcr-sdk's clients: standard mode, total_max_attempts=8


@pytest.fixture
def sleeps() -> Iterator[list[float]]:
    """Every delay botocore's retry loop asks for (it must not really sleep)."""
    recorded: list[float] = []
    with mock.patch("botocore.endpoint.time.sleep", side_effect=recorded.append):
        yield recorded


def queue_jobs(world: MotoWorld) -> list[str]:
    """The queue's jobs; these tests never describe one, so every job is SUBMITTED."""
    summary = world.clients.batch.list_jobs(jobQueue=world.queue, jobStatus="SUBMITTED")
    return [job["jobId"] for job in summary["jobSummaryList"]]


@pytest.mark.parametrize("kind", [Fault.THROTTLE, Fault.SERVER_ERROR, Fault.CONNECTION_ERROR])
def test_transient_submit_fault_is_retried_and_submits_once(
    jobs: Jobs, kind: Fault, sleeps: list[float]
) -> None:
    handle = jobs.world.faults.add(service="batch", operation="SubmitJob", kind=kind, times=2)
    job_id = jobs.submit(0, {})

    assert handle.injected == 2
    assert handle.exhausted
    assert jobs.world.faults.injected == 2
    assert queue_jobs(jobs.world) == [job_id]  # the faulted attempts never reached the mock
    assert [call.job_id for call in jobs.world.submitted()] == [job_id]
    assert sleeps == [0.0, 0.0]


def test_throttle_is_a_429_too_many_requests(moto_world: MotoWorld) -> None:
    moto_world.faults.add(service="batch", operation="DescribeJobs", kind=Fault.THROTTLE, times=1)
    response = moto_world.clients.batch.describe_jobs(jobs=[])
    assert response["ResponseMetadata"]["RetryAttempts"] == 1


def test_exhausted_throttling_surfaces_a_client_error(jobs: Jobs, sleeps: list[float]) -> None:
    handle = jobs.world.faults.add(
        service="batch", operation="SubmitJob", kind=Fault.THROTTLE, times=None
    )
    with pytest.raises(ClientError) as caught:
        jobs.submit(0, {})

    error = caught.value.response
    assert error["Error"]["Code"] == "TooManyRequestsException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error["ResponseMetadata"]["RetryAttempts"] == TOTAL_ATTEMPTS - 1
    assert handle.injected == TOTAL_ATTEMPTS
    assert queue_jobs(jobs.world) == []
    (call,) = jobs.world.submitted()
    assert call.job_id is None
    assert sleeps == [0.0] * (TOTAL_ATTEMPTS - 1)


def test_exhausted_server_errors_surface_a_500(jobs: Jobs) -> None:
    jobs.world.faults.add(
        service="batch", operation="SubmitJob", kind=Fault.SERVER_ERROR, times=None
    )
    with pytest.raises(ClientError) as caught:
        jobs.submit(0, {})
    assert caught.value.response["Error"]["Code"] == "ServerException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_exhausted_connection_errors_surface_the_connection_error(jobs: Jobs) -> None:
    jobs.world.faults.add(
        service="batch", operation="SubmitJob", kind=Fault.CONNECTION_ERROR, times=None
    )
    with pytest.raises(EndpointConnectionError):
        jobs.submit(0, {})
    assert jobs.world.faults.injected == TOTAL_ATTEMPTS
    assert queue_jobs(jobs.world) == []


def test_lost_response_is_applied_then_retried(jobs: Jobs) -> None:
    jobs.world.faults.add(service="batch", operation="SubmitJob", kind=Fault.LOST_RESPONSE, times=1)
    job_id = jobs.submit(0, {})

    # the mock executed the lost attempt too: two jobs exist for one call the client made.
    assert len(queue_jobs(jobs.world)) == 2
    assert job_id in queue_jobs(jobs.world)
    assert [view.index for view in jobs.world.jobs()] == [0, 0]
    (call,) = jobs.world.submitted()
    assert call.job_id == job_id


def test_lost_responses_without_end_raise_connection_closed(jobs: Jobs) -> None:
    jobs.world.faults.add(
        service="batch", operation="SubmitJob", kind=Fault.LOST_RESPONSE, times=None
    )
    with pytest.raises(ConnectionClosedError):
        jobs.submit(0, {})
    assert len(queue_jobs(jobs.world)) == TOTAL_ATTEMPTS
    assert jobs.world.submitted()[0].job_id is None


def test_s3_throttle_is_slow_down_and_retried(moto_world: MotoWorld) -> None:
    s3 = moto_world.clients.s3
    handle = moto_world.faults.add(service="s3", operation="PutObject", kind=Fault.THROTTLE)
    response = s3.put_object(Bucket=moto_world.bucket, Key="k", Body=b"v")
    assert response["ResponseMetadata"]["RetryAttempts"] == 1
    assert handle.injected == 1
    assert s3.get_object(Bucket=moto_world.bucket, Key="k")["Body"].read() == b"v"

    moto_world.faults.add(service="s3", operation="PutObject", kind=Fault.THROTTLE, times=None)
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=moto_world.bucket, Key="k2", Body=b"v")
    assert caught.value.response["Error"]["Code"] == "SlowDown"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503


def test_s3_server_error_is_internal_error(moto_world: MotoWorld) -> None:
    moto_world.faults.add(service="s3", operation="GetObject", kind=Fault.SERVER_ERROR, times=None)
    with pytest.raises(ClientError) as caught:
        moto_world.clients.s3.get_object(Bucket=moto_world.bucket, Key="missing")
    assert caught.value.response["Error"]["Code"] == "InternalError"


def test_logs_throttle(moto_world: MotoWorld) -> None:
    moto_world.faults.add(service="logs", operation=None, kind=Fault.THROTTLE, times=None)
    with pytest.raises(ClientError) as caught:
        moto_world.clients.logs.describe_log_groups()
    assert caught.value.response["Error"]["Code"] == "ThrottlingException"


def test_rule_matches_only_its_service_and_operation(jobs: Jobs) -> None:
    handle = jobs.world.faults.add(service="batch", operation=None, kind=Fault.THROTTLE, times=3)
    jobs.world.clients.s3.list_objects_v2(Bucket=jobs.world.bucket)
    assert handle.injected == 0
    jobs.world.faults.add(service="batch", operation="SubmitJob", kind=Fault.SERVER_ERROR)
    response = jobs.world.clients.batch.describe_job_queues()
    assert response["ResponseMetadata"]["RetryAttempts"] == 3  # every attempt matches
    assert handle.injected == 3
    jobs.submit(0, {})
    assert jobs.world.faults.injected == 4  # the SubmitJob rule fired once


def test_clear_stops_injection_but_keeps_the_total(moto_world: MotoWorld) -> None:
    moto_world.faults.add(service="s3", operation="ListObjectsV2", kind=Fault.THROTTLE, times=None)
    with pytest.raises(ClientError):
        moto_world.clients.s3.list_objects_v2(Bucket=moto_world.bucket)
    moto_world.faults.clear()
    assert moto_world.faults.rules == ()
    moto_world.clients.s3.list_objects_v2(Bucket=moto_world.bucket)
    assert moto_world.faults.injected == TOTAL_ATTEMPTS


def test_default_boto3_clients_and_legacy_retries_see_faults_too(
    moto_world: MotoWorld, sleeps: list[float]
) -> None:
    moto_world.faults.add(service="batch", operation="DescribeJobQueues", kind=Fault.THROTTLE)
    legacy = boto3.client("batch", config=Config(retries={"mode": "legacy"}))
    response = legacy.describe_job_queues()
    assert response["ResponseMetadata"]["RetryAttempts"] == 1
    assert [q["jobQueueName"] for q in response["jobQueues"]] == [moto_world.queue]
    assert sleeps == [0.0]


def test_add_rejects_bad_arguments() -> None:
    faults = FaultInjector()
    with pytest.raises(ValueError, match="times"):
        faults.add(service="batch", operation="SubmitJob", kind=Fault.THROTTLE, times=0)
    with pytest.raises(ValueError, match="service"):
        faults.add(service="ec2", operation=None, kind=Fault.THROTTLE)  # type: ignore[arg-type] # checks the runtime guard
