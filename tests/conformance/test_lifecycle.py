"""What pcr-sdk relies on every day: statuses, exit codes, logs, dependencies, arrays (point 9)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from pcr_sdk._private.wire import facts
from tests.conformance import scripts
from tests.conformance.target import Target

pytestmark = [pytest.mark.conformance, pytest.mark.slow]


def test_a_job_succeeds_and_its_output_is_in_cloudwatch_logs(target: Target) -> None:
    """https://docs.aws.amazon.com/batch/latest/userguide/job_states.html and
    https://docs.aws.amazon.com/batch/latest/userguide/using_awslogs.html"""
    job_id = target.submit(target.definition("hello", target.script(scripts.ARGS, "hello")))

    job = target.wait([job_id])[job_id]

    assert job["status"] == "SUCCEEDED"
    assert job["statusReason"] == facts.CONTAINER_EXITED_REASON
    assert job["container"]["exitCode"] == 0
    assert job["stoppedAt"] >= job["startedAt"] >= job["createdAt"]
    assert len(job["attempts"]) == 1
    assert target.log(job) == ["hello"]


def test_a_failed_job_reports_its_exit_code_and_fails_its_dependents(target: Target) -> None:
    """https://docs.aws.amazon.com/batch/latest/userguide/job_dependencies.html"""
    definition = target.definition("fails", target.script(scripts.EXIT, "3"))
    failing = target.submit(definition)
    dependent = target.submit(definition, depends_on=[failing])

    jobs = target.wait([failing, dependent])

    assert jobs[failing]["status"] == "FAILED"
    assert jobs[failing]["statusReason"] == facts.CONTAINER_EXITED_REASON
    assert jobs[failing]["container"]["exitCode"] == 3
    assert jobs[dependent]["status"] == "FAILED"
    assert jobs[dependent]["statusReason"] == facts.DEPENDENCY_FAILED_REASON
    assert jobs[dependent]["attempts"] == []


def test_array_children_know_their_index_and_the_array_size(target: Target) -> None:
    """Point 9: https://docs.aws.amazon.com/batch/latest/userguide/job_env_vars.html
    (AWS_BATCH_JOB_ARRAY_INDEX, AWS_BATCH_JOB_ARRAY_SIZE) and
    https://docs.aws.amazon.com/batch/latest/userguide/array_jobs.html"""
    command = target.script(scripts.ENV, facts.ENV_ARRAY_INDEX, facts.ENV_ARRAY_SIZE)
    parent = target.submit(target.definition("array", command), arrayProperties={"size": 3})
    children = [f"{parent}:{index}" for index in range(3)]

    jobs = target.wait([parent, *children])

    assert jobs[parent]["status"] == "SUCCEEDED"
    summary = jobs[parent]["arrayProperties"]["statusSummary"]
    assert set(summary) == set(facts.BATCH_STATUSES)
    assert summary["SUCCEEDED"] == 3
    for index, child in enumerate(children):
        assert jobs[child]["arrayProperties"]["index"] == index
        assert json.loads(target.log(jobs[child])[0]) == {
            facts.ENV_ARRAY_INDEX: str(index),
            facts.ENV_ARRAY_SIZE: "3",
        }


def test_finished_jobs_say_whether_they_were_cancelled_or_terminated(target: Target) -> None:
    """Point 9: DescribeJobs' JobDetail has isCancelled and isTerminated; ListJobs' JobSummary
    has them only when true.
    https://docs.aws.amazon.com/batch/latest/APIReference/API_JobDetail.html and
    https://docs.aws.amazon.com/batch/latest/APIReference/API_JobSummary.html"""
    name = target.name("flags")
    job_id = target.submit(target.definition("flags", target.script(scripts.ARGS)), name=name)

    job = target.wait([job_id])[job_id]

    assert job["status"] == "SUCCEEDED"
    assert job.get("isCancelled") is False
    assert job.get("isTerminated") is False
    listed = target.batch.list_jobs(
        jobQueue=target.queue, filters=[{"name": "JOB_NAME", "values": [name]}]
    )["jobSummaryList"]
    assert [summary["jobId"] for summary in listed] == [job_id]
    assert "isCancelled" not in listed[0]
    assert "isTerminated" not in listed[0]


def test_terminate_job_fails_a_running_job(target: Target) -> None:
    """https://docs.aws.amazon.com/batch/latest/APIReference/API_TerminateJob.html"""
    job_id = target.submit(target.definition("terminated", target.script(scripts.SLEEP)))
    target.wait_for_line(job_id, "ready")

    target.batch.terminate_job(jobId=job_id, reason="enough")
    job = target.wait([job_id])[job_id]

    assert job["status"] == "FAILED"
    assert job["statusReason"] == "enough"
    assert job.get("isTerminated") is True
    assert len(job["attempts"]) == 1


def test_describe_jobs_takes_at_most_100_ids(target: Target) -> None:
    """https://docs.aws.amazon.com/batch/latest/APIReference/API_DescribeJobs.html"""
    with pytest.raises(ClientError) as err:
        target.batch.describe_jobs(jobs=[f"no-such-job-{i}" for i in range(101)])
    assert err.value.response["Error"]["Code"] == "ClientException"
