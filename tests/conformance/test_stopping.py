"""Points 2 and 4: timeouts are not retried; stopping a job is SIGTERM, then SIGKILL.

Time differs by design: on the local backend a 60 s timeout and the 30 s grace period last 2 s
and 1 s (`LOCAL_TIMEOUT_SCALE`); on a MotoWorld they pass on its virtual clock, one second per
DescribeJobs (`Target.wait` polls without sleeping).
"""

from __future__ import annotations

import pytest

from pcr_sdk._private.wire import facts
from tests.conformance import scripts
from tests.conformance.target import Target

pytestmark = [pytest.mark.conformance, pytest.mark.slow]

TIMEOUT = {"attemptDurationSeconds": facts.MIN_TIMEOUT_SECONDS}


def test_a_timed_out_job_is_not_retried(target: Target) -> None:
    """Point 2: "If a job is terminated due to a timeout, it isn't retried."
    https://docs.aws.amazon.com/batch/latest/userguide/job_timeouts.html"""
    definition = target.definition(
        "times-out", target.script(scripts.SLEEP), timeout=TIMEOUT, retryStrategy={"attempts": 3}
    )
    job_id = target.submit(definition)

    job = target.wait([job_id])[job_id]

    assert job["status"] == "FAILED"
    assert job["statusReason"] == facts.TIMEOUT_REASON
    assert len(job["attempts"]) == 1
    assert job["attempts"][0]["statusReason"] == facts.TIMEOUT_REASON


def test_a_timeout_sends_sigterm_then_sigkill(target: Target) -> None:
    """Point 4: at the timeout the container gets SIGTERM, and SIGKILL if it still runs after
    the grace period (30 s on AWS). The job here logs SIGTERM and carries on, so only SIGKILL
    can end it. https://docs.aws.amazon.com/batch/latest/userguide/job_timeouts.html"""
    definition = target.definition(
        "ignores-sigterm", target.script(scripts.ON_SIGTERM), timeout=TIMEOUT
    )
    job_id = target.submit(definition)

    job = target.wait([job_id])[job_id]

    assert job["status"] == "FAILED"
    assert job["statusReason"] == facts.TIMEOUT_REASON
    assert target.log(job) == ["ready", "got SIGTERM"]


def test_terminate_job_lets_the_job_shut_down_on_sigterm(target: Target) -> None:
    """Point 4: TerminateJob stops the container as ECS StopTask does: SIGTERM first, so the job
    can clean up and exit; it still ends FAILED with the given reason.
    https://docs.aws.amazon.com/batch/latest/APIReference/API_TerminateJob.html and
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_StopTask.html"""
    definition = target.definition("cleans-up", target.script(scripts.ON_SIGTERM, "3"))
    job_id = target.submit(definition)
    target.wait_for_line(job_id, "ready")

    target.batch.terminate_job(jobId=job_id, reason="stop now")
    job = target.wait([job_id])[job_id]

    assert job["status"] == "FAILED"
    assert job["statusReason"] == "stop now"
    assert job.get("isTerminated") is True
    assert target.log(job) == ["ready", "got SIGTERM"]
    assert job["container"]["exitCode"] == 3
