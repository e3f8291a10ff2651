"""What a world's Batch gets from the local engine: AWS Batch's semantics on a stepping scheduler.

Other sessions reach the same engine, time is the world's virtual clock, retries, timeouts,
resource limits, Spot reclaims, other queues and the AWS behaviours the old moto-patched
harness got wrong.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ClientError

from pcr_sdk._private.wire import facts
from pcr_sdk.testing import ESSENTIAL_CONTAINER_EXITED, Fault, MotoWorld
from tests.support.jobs import Jobs

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_batch.type_defs import JobDetailTypeDef

pytestmark = pytest.mark.integration


def _definition(world: MotoWorld, name: str, **extra: Any) -> str:
    """A definition registered through the world's clients (RetryStrategy, timeout, memory)."""
    memory = str(extra.pop("memory", 512))
    return world.clients.batch.register_job_definition(
        jobDefinitionName=name,
        type="container",
        containerProperties={
            "image": "python:3.11",
            "resourceRequirements": [
                {"type": "VCPU", "value": "1"},
                {"type": "MEMORY", "value": memory},
            ],
        },
        **extra,
    )["jobDefinitionArn"]


def _submit(world: MotoWorld, definition: str, name: str = "job", **extra: Any) -> str:
    return world.clients.batch.submit_job(
        jobName=name, jobQueue=world.queue, jobDefinition=definition, **extra
    )["jobId"]


def _describe(world: MotoWorld, job_id: str) -> JobDetailTypeDef:
    return world.clients.batch.describe_jobs(jobs=[job_id])["jobs"][0]


def _until_finished(world: MotoWorld, job_id: str, limit: int = 100) -> JobDetailTypeDef:
    for _ in range(limit):
        job = _describe(world, job_id)
        if job["status"] in ("SUCCEEDED", "FAILED"):
            return job
    raise AssertionError(f"job {job_id} still {job['status']} after {limit} describes")


def _other_session_client(world: MotoWorld) -> BatchClient:
    return boto3.Session(
        aws_access_key_id="other", aws_secret_access_key="other", region_name=world.region
    ).client("batch")


def test_other_sessions_reach_the_same_batch_without_faults(jobs: Jobs) -> None:
    job_id = jobs.submit(0, {})
    observer = _other_session_client(jobs.world)
    jobs.world.faults.add(service="batch", operation="ListJobs", kind=Fault.THROTTLE, times=None)

    listed = observer.list_jobs(jobQueue=jobs.world.queue, jobStatus="SUBMITTED")

    assert [job["jobId"] for job in listed["jobSummaryList"]] == [job_id]
    assert jobs.world.faults.injected == 0  # faults are for the world's session only
    assert observer.describe_jobs(jobs=[job_id])["jobs"][0]["status"] == "SUCCEEDED"
    assert [call.job_id for call in jobs.world.submitted()] == [job_id]  # not captured either
    with pytest.raises(ClientError, match="TooManyRequests"):
        jobs.world.clients.batch.list_jobs(jobQueue=jobs.world.queue)
    observer.close()


def test_the_clock_moves_one_second_per_describe_and_stamps_the_jobs(moto_world: MotoWorld) -> None:
    start = moto_world.clock()
    definition = moto_world.register_job_definition()
    job_id = _submit(moto_world, definition)
    moto_world.clock.advance(5)

    job = _describe(moto_world, job_id)

    assert moto_world.clock() == start + 6
    assert job["createdAt"] == int(start * 1000)
    assert job["startedAt"] == job["stoppedAt"] == int((start + 6) * 1000)
    with pytest.raises(ValueError, match="does not go back"):
        moto_world.clock.advance(-1)


def test_a_timeout_fails_a_job_on_the_virtual_clock_and_is_not_retried(
    moto_world: MotoWorld,
) -> None:
    moto_world.script.polls_to_finish = 1000
    definition = _definition(
        moto_world,
        "times-out",
        timeout={"attemptDurationSeconds": 60},
        retryStrategy={"attempts": 3},
    )
    job_id = _submit(moto_world, definition)
    for _ in range(5):
        assert _describe(moto_world, job_id)["status"] != "FAILED"
    assert _describe(moto_world, job_id)["status"] == "RUNNING"

    moto_world.clock.advance(60)  # one more describe is one more second: past the timeout
    job = _describe(moto_world, job_id)

    assert job["status"] == "FAILED"
    assert job["statusReason"] == facts.TIMEOUT_REASON
    (attempt,) = job["attempts"]
    assert attempt["statusReason"] == facts.TIMEOUT_REASON
    assert "exitCode" not in attempt["container"]


def test_a_retry_strategy_gives_a_failing_job_its_attempts(moto_world: MotoWorld) -> None:
    definition = _definition(
        moto_world,
        "retried",
        retryStrategy={"attempts": 3, "evaluateOnExit": [{"onExitCode": "4", "action": "EXIT"}]},
    )
    moto_world.script.fail(job_name="three", exit_code=3, log_lines=["boom"])
    moto_world.script.fail(job_name="four", exit_code=4)
    three, four = _submit(moto_world, definition, "three"), _submit(moto_world, definition, "four")

    first = _describe(moto_world, three)  # one attempt per describe
    assert first["status"] == "RUNNABLE"
    assert [a["container"]["exitCode"] for a in first["attempts"]] == [3]
    retried, exited = _until_finished(moto_world, three), _until_finished(moto_world, four)

    assert retried["status"] == "FAILED"
    assert [a["container"]["exitCode"] for a in retried["attempts"]] == [3, 3, 3]
    streams = {a["container"]["logStreamName"] for a in retried["attempts"]}
    assert len(streams) == 3  # a log stream per attempt, as on AWS
    assert [a["container"]["exitCode"] for a in exited["attempts"]] == [4]


def test_terminating_a_finished_job_keeps_its_reason_and_flags(jobs: Jobs) -> None:
    """The moto-patched harness overwrote the statusReason; AWS (and the engine) do not."""
    job_id = jobs.submit(0, {})
    assert jobs.status(job_id) == "SUCCEEDED"

    jobs.world.clients.batch.terminate_job(jobId=job_id, reason="too late")
    (job,) = jobs.describe(job_id)

    assert job["status"] == "SUCCEEDED"
    assert job["statusReason"] == ESSENTIAL_CONTAINER_EXITED
    assert job["isTerminated"] is False


def test_a_cancelled_pending_job_fails_once_its_dependency_is_done(jobs: Jobs) -> None:
    jobs.world.script.polls(index=0, n=3)
    first = jobs.submit(0, {})
    second = jobs.submit(1, {}, depends_on=[first])
    assert [job["status"] for job in jobs.describe(first, second)] == ["SUBMITTED", "PENDING"]

    jobs.world.clients.batch.cancel_job(jobId=second, reason="not wanted")
    assert jobs.status(second) == "PENDING"  # as on AWS: until its dependency is done
    rounds = [[job["status"] for job in jobs.describe(first, second)] for _ in range(3)]

    assert rounds == [["PENDING", "PENDING"], ["RUNNABLE", "PENDING"], ["SUCCEEDED", "FAILED"]]
    (cancelled,) = jobs.describe(second)
    assert cancelled["statusReason"] == "not wanted"
    assert cancelled["isCancelled"] is True
    assert cancelled["attempts"] == []


def test_a_job_no_instance_can_hold_stays_runnable_until_cancelled(moto_world: MotoWorld) -> None:
    huge = _definition(moto_world, "huge", memory=facts.MAX_MEMORY_MIB)
    small = moto_world.register_job_definition()
    blocked, other = _submit(moto_world, huge), _submit(moto_world, small)

    job = _describe(moto_world, blocked)
    assert job["status"] == "RUNNABLE"
    assert job["statusReason"] == facts.BLOCKED_BY_RESOURCES_REASON
    assert _describe(moto_world, other)["status"] == "SUCCEEDED"  # it blocks no other job

    moto_world.clients.batch.cancel_job(jobId=blocked, reason="cannot fit")
    cancelled = _describe(moto_world, blocked)
    assert cancelled["status"] == "FAILED"
    assert cancelled["statusReason"] == "cannot fit"


def test_jobs_go_to_any_queue_the_mock_knows(moto_world: MotoWorld) -> None:
    batch = moto_world.clients.batch
    environment = batch.describe_compute_environments()["computeEnvironments"][0]
    other = batch.create_job_queue(
        jobQueueName="other-queue",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[
            {"order": 1, "computeEnvironment": environment["computeEnvironmentArn"]}
        ],
    )
    definition = moto_world.register_job_definition()
    job_id = batch.submit_job(jobName="j", jobQueue="other-queue", jobDefinition=definition)[
        "jobId"
    ]

    assert _describe(moto_world, job_id)["jobQueue"] == other["jobQueueArn"]
    in_other = batch.list_jobs(jobQueue=other["jobQueueArn"], jobStatus="SUCCEEDED")
    assert [job["jobId"] for job in in_other["jobSummaryList"]] == [job_id]
    in_ours = batch.list_jobs(jobQueue=moto_world.queue, jobStatus="SUCCEEDED")
    assert in_ours["jobSummaryList"] == []
    with pytest.raises(ClientError, match="JobQueue no-such-queue not found"):
        batch.submit_job(jobName="j", jobQueue="no-such-queue", jobDefinition=definition)


def test_reclaim_host_ends_an_attempt_like_a_spot_reclaim(moto_world: MotoWorld) -> None:
    moto_world.script.polls_to_finish = 5
    definition = _definition(
        moto_world,
        "spot",
        retryStrategy={
            "attempts": 2,
            "evaluateOnExit": [{"onStatusReason": "Host EC2*", "action": "RETRY"}],
        },
    )
    job_id = _submit(moto_world, definition)
    with pytest.raises(ValueError, match="SUBMITTED"):
        moto_world.reclaim_host(job_id)
    with pytest.raises(KeyError):
        moto_world.reclaim_host("no-such-job")
    for _ in range(5):
        _describe(moto_world, job_id)

    reason = moto_world.reclaim_host(job_id)
    job = _until_finished(moto_world, job_id)

    assert reason.startswith("Host EC2 (instance i-")
    assert job["status"] == "SUCCEEDED"
    first, second = job["attempts"]
    assert first["statusReason"] == reason
    assert "exitCode" not in first["container"]
    assert second["container"]["exitCode"] == 0


def test_array_children_are_listed_by_array_job_id(moto_world: MotoWorld) -> None:
    definition = moto_world.register_job_definition()
    parent = _submit(moto_world, definition, "array", arrayProperties={"size": 3})
    batch = moto_world.clients.batch

    by_queue = batch.list_jobs(jobQueue=moto_world.queue, jobStatus="SUBMITTED")["jobSummaryList"]
    children = batch.list_jobs(arrayJobId=parent, jobStatus="SUBMITTED")["jobSummaryList"]

    assert [job["jobId"] for job in by_queue] == [parent]
    assert sorted(job["jobId"] for job in children) == [f"{parent}:{i}" for i in range(3)]
    assert [view.job_id for view in moto_world.jobs()] == [parent] + [
        f"{parent}:{i}" for i in range(3)
    ]
    assert [view.environment.get(facts.ENV_ARRAY_INDEX) for view in moto_world.jobs()] == [
        None,
        "0",
        "1",
        "2",
    ]


def test_clients_made_before_the_world_reach_its_batch() -> None:
    """As with moto's own mock: a client made before the world was entered is answered too."""
    early = boto3.Session(
        aws_access_key_id="early", aws_secret_access_key="early", region_name="eu-central-1"
    ).client("batch")
    with MotoWorld() as world:
        definition = world.register_job_definition()
        job_id = early.submit_job(jobName="early", jobQueue=world.queue, jobDefinition=definition)

        assert [view.job_id for view in world.jobs()] == [job_id["jobId"]]
        assert world.submitted() == []  # another session: not captured
    early.close()
