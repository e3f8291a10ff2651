"""What DescribeJobs shows: `propagateTags` as submitted, the log stream named after the task,
and a cancelled array's status."""

from __future__ import annotations

import pytest

from tests.conformance import scripts
from tests.conformance.target import Target

pytestmark = pytest.mark.conformance


def test_submit_jobs_propagate_tags_overrides_the_definitions(target: Target) -> None:
    """ "propagateTags ... When specified, this overrides the tag propagation setting in the job
    definition." https://docs.aws.amazon.com/batch/latest/APIReference/API_SubmitJob.html"""
    propagating = target.definition("propagating", target.script(scripts.ARGS), propagateTags=True)
    quiet = target.definition("quiet", target.script(scripts.ARGS), propagateTags=False)

    inherited = target.submit(propagating)
    switched_off = target.submit(propagating, propagateTags=False)
    switched_on = target.submit(quiet, propagateTags=True)
    jobs = target.wait([inherited, switched_off, switched_on])

    assert jobs[inherited]["propagateTags"] is True
    assert jobs[switched_off]["propagateTags"] is False
    assert jobs[switched_on]["propagateTags"] is True


def test_the_log_stream_is_named_after_the_definition_and_the_task(target: Target) -> None:
    """A job's log stream is `<job definition name>/default/<ECS task id>`, the task id being
    the last part of `container.taskArn`: tools derive one from the other.
    https://docs.aws.amazon.com/batch/latest/userguide/using_awslogs.html and
    https://docs.aws.amazon.com/batch/latest/APIReference/API_ContainerDetail.html"""
    suffix = "stream-name"
    job_id = target.submit(target.definition(suffix, target.script(scripts.EXIT, "1")),
                           retryStrategy={"attempts": 2})  # fmt: skip

    job = target.wait([job_id])[job_id]

    assert len(job["attempts"]) == 2
    for detail in (job["container"], *(attempt["container"] for attempt in job["attempts"])):
        task_id = detail["taskArn"].rsplit("/", 1)[-1]
        assert detail["logStreamName"] == f"{target.name(suffix)}/default/{task_id}"
    first, second = (attempt["container"]["taskArn"] for attempt in job["attempts"])
    assert first != second
    assert job["container"]["taskArn"] == second


def test_a_cancelled_array_whose_children_were_running_fails(target: Target) -> None:
    """CancelJob does not stop STARTING or RUNNING jobs ("These jobs must be terminated with
    the TerminateJob operation"): the running children finish, and succeed; the cancelled array
    parent still ends FAILED with the cancel's reason, not SUCCEEDED.
    https://docs.aws.amazon.com/batch/latest/APIReference/API_CancelJob.html"""
    command = target.script(scripts.WAIT_FOR_KEY, target.bucket, target.key("array-cancel"))
    parent = target.submit(target.definition("array-cancel", command), arrayProperties={"size": 2})
    children = [f"{parent}:{index}" for index in range(2)]
    for child in children:
        target.wait_for_line(child, "ready")

    target.batch.cancel_job(jobId=parent, reason="array no longer wanted")
    target.release("array-cancel")
    jobs = target.wait([*children, parent])

    assert [jobs[child]["status"] for child in children] == ["SUCCEEDED", "SUCCEEDED"]
    assert jobs[parent]["status"] == "FAILED"
    assert jobs[parent]["statusReason"] == "array no longer wanted"
    assert jobs[parent].get("isCancelled") is True
