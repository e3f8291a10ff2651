"""What comes back: job states as AWS Batch reports them, failure kinds, and job results."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Final, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
)

from pcr_sdk._private.errors import OutputMalformedError
from pcr_sdk._private.public import public
from pcr_sdk._private.wire.facts import (
    DEPENDENCY_FAILED_REASON,
    TIMEOUT_REASON,
    JobStatus,
)

if TYPE_CHECKING:
    from mypy_boto3_batch.type_defs import JobDetailTypeDef, JobSummaryTypeDef

M = TypeVar("M", bound=BaseModel)


@public("pcr_sdk.advanced")
@dataclass(frozen=True, slots=True)
class JobState:
    """What AWS Batch last said about one job (a slots dataclass: one exists per tracked job)."""

    job_id: str
    """The job's AWS Batch id."""
    status: JobStatus
    """Its status."""
    status_reason: str | None = None
    """AWS Batch's reason for the status, if it gave one."""
    exit_code: int | None = None
    """The last attempt's exit code; None before it ended, or when the container never ran."""
    attempts: int = 0
    """How many attempts AWS Batch has made."""
    log_stream_name: str | None = None
    """The last attempt's CloudWatch Logs stream, once it started."""
    children: Mapping[str, int] | None = None
    """For an array parent: how many children are in each status (AWS's statusSummary)."""
    container_reason: str | None = None
    """The last attempt's container reason (e.g. "OutOfMemoryError: ..."), if any."""
    cancelled: bool = False
    """AWS Batch's `isCancelled`: CancelJob stopped the job."""
    terminated: bool = False
    """AWS Batch's `isTerminated`: TerminateJob stopped the job."""
    summary_only: bool = False
    """True when inferred from an array parent or ListJobs: DescribeJobs knows more."""
    created_at: int | None = None
    """When the job was submitted, in epoch milliseconds."""
    started_at: int | None = None
    """When the job started running, in epoch milliseconds (None before)."""
    stopped_at: int | None = None
    """When the job stopped, in epoch milliseconds (None before)."""

    @property
    def failure(self) -> FailureKind | None:
        """Why the job failed (`FailureKind`), or None while it has not failed."""
        return classify_failure(self)


@public("pcr_sdk")
@dataclass(frozen=True, slots=True)
class SubmittedJob:
    """A job of this batch: its AWS Batch id, its index (its S3 prefix) and its dependencies.

    `array_id` is the parent's id for a child of an array job (`job_id` is `<array_id>:<i>`).
    `attempt` is 1 for the job first submitted at `index`, higher for its reruns
    (`JobSubmitter.resubmit_failed`): the highest attempt at an index is its current job.
    """

    job_id: str
    """The job's AWS Batch id."""
    index: int
    """Its index in the batch (0, 1, 2, ... in submission order)."""
    depends_on: tuple[str, ...] = ()
    """The ids of the jobs it waits for."""
    array_id: str | None = None
    """For a child of an array job: the parent's id; else None."""
    attempt: int = 1
    """1 for the first job at `index`, 2, 3, ... for its reruns."""

    def __post_init__(self) -> None:
        if self.index < 0:
            raise ValueError(f"job index must be >= 0, got {self.index}")
        if self.attempt < 1:
            raise ValueError(f"job attempt must be >= 1, got {self.attempt}")


@public("pcr_sdk")
class FailureKind(str, Enum):
    """Why a job failed, read from what AWS Batch reports."""

    NON_ZERO_EXIT = "non-zero-exit"
    OUT_OF_MEMORY = "out-of-memory"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    TERMINATED = "terminated"
    DEPENDENCY_FAILED = "dependency-failed"
    INFRASTRUCTURE = "infrastructure"
    EXPIRED = "expired"
    """AWS Batch no longer returns the job (it keeps finished jobs about a day)."""


FailureKindValue = Literal[
    "non-zero-exit", "out-of-memory", "timeout", "cancelled", "terminated", "infrastructure",
    "expired",
]  # fmt: skip
"""The values of the `FailureKind`s a rerun may ask for (`resubmit_failed(kinds=...)`): every
kind but "dependency-failed", whose jobs rerun with the dependencies they failed on."""


_FAILURE_RULES: Final[tuple[tuple[Callable[[JobState], bool], FailureKind], ...]] = (
    (
        lambda s: (s.status_reason or "").startswith(DEPENDENCY_FAILED_REASON),
        FailureKind.DEPENDENCY_FAILED,
    ),
    (lambda s: s.cancelled, FailureKind.CANCELLED),
    (lambda s: s.terminated, FailureKind.TERMINATED),
    (lambda s: TIMEOUT_REASON.lower() in (s.status_reason or "").lower(), FailureKind.TIMEOUT),
    (
        lambda s: "OutOfMemory" in f"{s.container_reason} {s.status_reason}",
        FailureKind.OUT_OF_MEMORY,
    ),
    (lambda s: s.exit_code not in (None, 0), FailureKind.NON_ZERO_EXIT),
)  # fmt: skip


def classify_failure(state: JobState) -> FailureKind | None:
    """The kind of a FAILED job's failure (first matching rule); EXPIRED for an expired job;
    None for any other status."""
    if state.status is JobStatus.EXPIRED:
        return FailureKind.EXPIRED
    if state.status is not JobStatus.FAILED:
        return None
    for matches, kind in _FAILURE_RULES:
        if matches(state):
            return kind
    return FailureKind.INFRASTRUCTURE


@public("pcr_sdk")
class JobResult(BaseModel):
    """The outcome of one job, as far as AWS Batch and S3 know it."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    """The job's AWS Batch id."""
    index: int
    """Its index in the batch (0, 1, 2, ... in submission order)."""
    status: JobStatus
    """Its status."""
    status_reason: str | None = None
    """AWS Batch's reason for the status, if it gave one."""
    exit_code: int | None = None
    """The last attempt's exit code; None before it ended, or when the container never ran."""
    attempts: int = 0
    """How many attempts AWS Batch has made."""
    log_stream_name: str | None = None
    """The last attempt's CloudWatch Logs stream, once it started."""
    output_key: str
    """The S3 key of the job's output.json (which may not exist)."""
    failure: FailureKind | None = None
    """Why the job failed; None unless it FAILED or EXPIRED."""
    container_reason: str | None = None
    """The last attempt's container reason (e.g. "OutOfMemoryError: ..."), if any."""
    created_at: int | None = None
    """When the job was submitted, in epoch milliseconds (None where AWS reported nothing)."""
    started_at: int | None = None
    """When the job started running, in epoch milliseconds (None before)."""
    stopped_at: int | None = None
    """When the job stopped, in epoch milliseconds (None before)."""
    output: str | None = None
    """The job's output JSON text: filled by `JobSubmitter.as_completed` (None for a job that
    failed, or whose output cannot be read); the other calls leave it None."""

    def output_as(self, model: type[M]) -> M | None:
        """`output` validated as `model`.

        Args:
            model: the pydantic model of the job's output.

        Returns:
            The validated output, or None if there is no `output`.

        Raises:
            OutputMalformedError: `output` does not validate as `model`.
        """
        if self.output is None:
            return None
        return parse_output(self.output, model, job_id=self.job_id, index=self.index,
                            key=self.output_key)  # fmt: skip

    @property
    def succeeded(self) -> bool:
        """The job's status is SUCCEEDED."""
        return self.status is JobStatus.SUCCEEDED

    @property
    def finished(self) -> bool:
        """SUCCEEDED, FAILED or EXPIRED: the result will not change any more."""
        return self.status.is_finished


def parse_output(text: str, model: type[M], *, job_id: str, index: int, key: str) -> M:
    """A job's output JSON text validated as `model`; `OutputMalformedError` naming the job id
    and index if it does not validate."""
    try:
        return model.model_validate_json(text)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "output"
        raise OutputMalformedError(
            f"output of job {job_id} (index {index}) is not a valid {model.__name__}: "
            f"{where}: {first['msg']} ({err.error_count()} error(s))",
            key=key, job_id=job_id, index=index,
        ) from err  # fmt: skip


EXPIRED_REASON: Final = "AWS Batch no longer returns this job (it keeps finished jobs about a day)"


def job_state(detail: JobDetailTypeDef) -> JobState:
    """Read one DescribeJobs entry into a `JobState`."""
    container = detail.get("container", {})
    attempts = detail.get("attempts", [])
    exit_code = container.get("exitCode")
    log_stream = container.get("logStreamName")
    container_reason = container.get("reason")
    if attempts:
        last = attempts[-1].get("container", {})
        exit_code = last.get("exitCode", exit_code)
        log_stream = last.get("logStreamName", log_stream)
        container_reason = last.get("reason", container_reason)
    summary = detail.get("arrayProperties", {}).get("statusSummary")
    return JobState(
        job_id=detail["jobId"],
        status=JobStatus(detail["status"]),
        status_reason=detail.get("statusReason"),
        exit_code=exit_code,
        attempts=len(attempts),
        log_stream_name=log_stream,
        children=dict(summary) if summary is not None else None,
        container_reason=container_reason,
        cancelled=bool(detail.get("isCancelled")),
        terminated=bool(detail.get("isTerminated")),
        created_at=detail.get("createdAt"),
        started_at=detail.get("startedAt"),
        stopped_at=detail.get("stoppedAt"),
    )


def summary_state(summary: JobSummaryTypeDef) -> JobState:
    """Read one ListJobs entry (less detail than DescribeJobs) into a `JobState`."""
    container = summary.get("container", {})
    return JobState(
        job_id=summary["jobId"],
        status=JobStatus(summary["status"]),
        status_reason=summary.get("statusReason"),
        exit_code=container.get("exitCode"),
        container_reason=container.get("reason"),
        summary_only=True,
        created_at=summary.get("createdAt"),
        started_at=summary.get("startedAt"),
        stopped_at=summary.get("stoppedAt"),
    )


def expired_state(job_id: str) -> JobState:
    """The state of a job AWS Batch no longer returns."""
    return JobState(job_id, JobStatus.EXPIRED, status_reason=EXPIRED_REASON)


def parent_of(job_id: str) -> str:
    """`<parent>` of an array child id `<parent>:<i>`; the id itself for any other job."""
    return job_id.rsplit(":", 1)[0] if ":" in job_id else job_id
