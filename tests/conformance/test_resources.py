"""Point 1: resource requirements decide where, and whether, a job can run."""

from __future__ import annotations

import pytest

from pcr_sdk._private.wire import facts
from tests.conformance import scripts
from tests.conformance.target import Target

pytestmark = [pytest.mark.conformance, pytest.mark.slow]

NEVER_FITS_MIB = str(facts.MAX_MEMORY_MIB)
"""4 TiB: more memory than any instance type has."""


def _blocked(target: Target, job_id: str) -> str:
    """Wait until the RUNNABLE job carries a blocked reason; the reason."""
    job = target.wait_for(
        job_id,
        lambda job: (
            job["status"] == "RUNNABLE"
            and job.get("statusReason", "").startswith(facts.BLOCKED_REASON_PREFIXES)
        ),
        "a blocked RUNNABLE statusReason",
    )
    return job["statusReason"]


def test_a_job_no_compute_environment_can_hold_stays_runnable(target: Target) -> None:
    """A job asking more than its queue's compute environments can ever give stays RUNNABLE,
    with the reason in DescribeJobs and ListJobs, until it is cancelled.
    https://docs.aws.amazon.com/batch/latest/userguide/job_stuck_in_runnable.html"""
    definition = target.definition("too-big", target.script(scripts.ARGS), memory=NEVER_FITS_MIB)
    job_id = target.submit(definition)
    try:
        reason = _blocked(target, job_id)
        if target.local:
            assert reason == facts.BLOCKED_BY_RESOURCES_REASON
        listed = target.batch.list_jobs(jobQueue=target.queue, jobStatus="RUNNABLE")
        summaries = {job["jobId"]: job for job in listed["jobSummaryList"]}
        assert summaries[job_id]["statusReason"] == reason
    finally:
        target.batch.cancel_job(jobId=job_id, reason="cannot fit")
    cancelled = target.wait([job_id])[job_id]
    assert cancelled["status"] == "FAILED"
    assert cancelled["statusReason"] == "cannot fit"
    assert cancelled["attempts"] == []


def test_submitted_resource_requirements_override_the_definition(target: Target) -> None:
    """containerOverrides.resourceRequirements replace the definition's (here: GPUs no
    instance has). https://docs.aws.amazon.com/batch/latest/APIReference/API_ContainerOverrides.html"""
    definition = target.definition("gpu-override", target.script(scripts.ARGS))
    job_id = target.submit(
        definition,
        containerOverrides={
            "resourceRequirements": [{"type": "GPU", "value": str(facts.MAX_GPUS)}]
        },
    )
    try:
        _blocked(target, job_id)
        shown = target.describe(job_id)["container"]["resourceRequirements"]
        assert {"type": "GPU", "value": str(facts.MAX_GPUS)} in shown
        assert {"type": "VCPU", "value": "1"} in shown
    finally:
        target.batch.cancel_job(jobId=job_id, reason="cannot fit")
    target.wait([job_id])


def test_jobs_are_packed_into_the_compute_environment_by_vcpus(target: Target) -> None:
    """Two 2-vCPU jobs fill 4 vCPUs; a third waits RUNNABLE (without a blocked reason) until one
    ends. https://docs.aws.amazon.com/batch/latest/userguide/job_states.html (RUNNABLE)"""
    target.only_on(
        "local",
        "the local compute environment's size is known (4 vCPUs); an AWS one scales, and a "
        "MotoWorld's holds any number of jobs (its stepping scheduler has no time to wait in)",
    )
    definition = target.definition("two-vcpus", vcpus="2")
    command = target.script(scripts.WAIT_FOR_KEY, target.bucket, target.key("packed"))
    first, second = (target.submit(definition, command) for _ in range(2))
    target.wait([first, second], statuses={"RUNNING"})
    third = target.submit(definition, target.script(scripts.ARGS))
    target.wait([third], statuses={"RUNNABLE"})
    assert target.describe(third)["status"] == "RUNNABLE"
    assert "statusReason" not in target.describe(third)

    target.release("packed")
    jobs = target.wait([first, second, third])

    assert {job["status"] for job in jobs.values()} == {"SUCCEEDED"}
    assert jobs[third]["startedAt"] >= min(jobs[first]["stoppedAt"], jobs[second]["stoppedAt"])
