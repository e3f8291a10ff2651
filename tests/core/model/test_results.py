"""Job states and results: read from DescribeJobs and ListJobs, failures classified, typed
outputs validated."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from pcr_sdk import FailureKind, JobResult, JobStatus, OutputMalformedError
from pcr_sdk._private.model.results import (
    JobState,
    classify_failure,
    expired_state,
    job_state,
    parent_of,
    summary_state,
)
from pcr_sdk._private.wire.facts import DEPENDENCY_FAILED_REASON, TIMEOUT_REASON


def failed(**fields: Any) -> JobState:
    return JobState("j", JobStatus.FAILED, **fields)


@pytest.mark.parametrize(
    ("state", "kind"),
    [
        (failed(status_reason=f"{DEPENDENCY_FAILED_REASON} x", cancelled=True),
         "dependency-failed"),
        (failed(cancelled=True, exit_code=1), "cancelled"),
        (failed(terminated=True, exit_code=143), "terminated"),
        (failed(status_reason=TIMEOUT_REASON, exit_code=137), "timeout"),
        (failed(container_reason="OutOfMemoryError: Container killed", exit_code=137),
         "out-of-memory"),
        (failed(exit_code=3), "non-zero-exit"),
        (failed(status_reason="Host EC2 (instance i-1) terminated."), "infrastructure"),
        (JobState("j", JobStatus.EXPIRED), "expired"),
        (JobState("j", JobStatus.SUCCEEDED, exit_code=0), None),
        (JobState("j", JobStatus.RUNNING), None),
    ],
)  # fmt: skip
def test_failures_are_classified_by_the_first_rule_that_matches(
    state: JobState, kind: str | None
) -> None:
    assert classify_failure(state) == (None if kind is None else FailureKind(kind))
    assert state.failure == classify_failure(state)


def test_describe_jobs_reads_the_last_attempt_and_the_array_summary() -> None:
    detail: Any = {
        "jobId": "p", "jobName": "n", "jobQueue": "q", "jobDefinition": "d", "startedAt": 5,
        "status": "FAILED", "statusReason": "Essential container in task exited",
        "container": {"exitCode": 9, "logStreamName": "old"},
        "attempts": [{"container": {"exitCode": 1, "logStreamName": "a1"}},
                     {"container": {"exitCode": 3, "logStreamName": "a2", "reason": "r"}}],
        "arrayProperties": {"statusSummary": {"FAILED": 1}, "size": 1},
        "isTerminated": True, "createdAt": 1, "stoppedAt": 9,
    }  # fmt: skip
    state = job_state(detail)
    assert (state.exit_code, state.log_stream_name, state.container_reason) == (3, "a2", "r")
    assert (state.attempts, state.children, state.terminated) == (2, {"FAILED": 1}, True)
    assert (state.created_at, state.started_at, state.stopped_at) == (1, 5, 9)
    assert not state.summary_only


def test_list_jobs_gives_a_summary_and_expiry_a_reason() -> None:
    summary: Any = {"jobId": "c:1", "jobName": "n", "status": "SUCCEEDED",
                    "container": {"exitCode": 0}, "createdAt": 1}  # fmt: skip
    state = summary_state(summary)
    assert state.summary_only
    assert (state.status, state.exit_code) == (JobStatus.SUCCEEDED, 0)
    gone = expired_state("old")
    assert gone.status is JobStatus.EXPIRED
    assert "no longer returns" in (gone.status_reason or "")
    assert (parent_of("c:1"), parent_of("plain")) == ("c", "plain")


class Total(BaseModel):
    total: int


def test_a_typed_output_is_validated_and_a_bad_one_names_its_job() -> None:
    result = JobResult(job_id="j1", index=4, status=JobStatus.SUCCEEDED, output_key="k",
                       output='{"total": 3}')  # fmt: skip
    assert result.output_as(Total) == Total(total=3)
    assert result.succeeded
    assert result.finished
    assert result.model_copy(update={"output": None}).output_as(Total) is None
    bad = result.model_copy(update={"output": '{"total": "x"}'})
    with pytest.raises(OutputMalformedError, match=r"job j1 \(index 4\).*total") as raised:
        bad.output_as(Total)
    assert (raised.value.key, raised.value.index) == ("k", 4)
