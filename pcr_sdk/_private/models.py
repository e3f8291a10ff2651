"""Frozen pydantic models: batch names and ids, job definitions, job specs, statuses, results.

Every AWS Batch limit that can be checked without a network call is checked here; the limits
themselves live in `pcr_sdk._private.aws`.
"""

from __future__ import annotations

import json
import math
import re
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final, Literal, TypeVar
from uuid import UUID, uuid4

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    ValidationError,
    field_validator,
    model_validator,
)

from pcr_sdk._private.aws import (
    DEPENDENCY_FAILED_REASON,
    FARGATE_VCPUS,
    IMAGE_PATTERN,
    MAX_DEPENDENCIES,
    MAX_EVALUATE_ON_EXIT_RULES,
    MAX_GPUS,
    MAX_MEMORY_MIB,
    MAX_RETRY_ATTEMPTS,
    MAX_TAG_KEY_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    MAX_TAGS,
    MAX_VCPUS,
    MIN_MEMORY_MIB,
    MIN_TIMEOUT_SECONDS,
    RESERVED_ENV_PREFIX,
    RESERVED_TAG_PREFIXES,
    TIMEOUT_REASON,
    JobStatus,
)
from pcr_sdk._private.contract import RESERVED_VARIABLES
from pcr_sdk._private.errors import (
    InvalidBatchNameError,
    InvalidJobSpecError,
    OutputMalformedError,
)
from pcr_sdk._private.jsonio import dump_json
from pcr_sdk._private.retry import RetryPolicy, RetryRule

BATCH_NAME_MAX_LENGTH: Final = 90

_NAME_FIRST: Final = frozenset(string.ascii_letters + string.digits)
_NAME_REST: Final = _NAME_FIRST | frozenset("-_")
_ENV_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_UUID_LENGTH: Final = 36

M = TypeVar("M", bound=BaseModel)


def check_batch_name(value: object) -> str:
    """Return `value` if it obeys the seed's batch-name rule, else say which part failed."""
    if not isinstance(value, str):
        raise InvalidBatchNameError(
            f"batch name must be a string, not {type(value).__name__}",
            name=repr(value),
            reason="type",
        )
    if not value:
        raise InvalidBatchNameError("batch name must not be empty", name=value, reason="empty")
    if len(value) > BATCH_NAME_MAX_LENGTH:
        raise InvalidBatchNameError(
            f"batch name has {len(value)} characters; at most {BATCH_NAME_MAX_LENGTH} are allowed",
            name=value,
            reason="length",
        )
    if value[0] not in _NAME_FIRST:
        raise InvalidBatchNameError(
            f"batch name must start with an ASCII letter or digit, not {value[0]!r}",
            name=value,
            reason="first-character",
        )
    bad = sorted({c for c in value[1:] if c not in _NAME_REST})
    if bad:
        raise InvalidBatchNameError(
            "batch name may contain only ASCII letters, digits, '-' and '_'; "
            f"found {''.join(bad)!r}",
            name=value,
            reason="characters",
        )
    return value


class BatchName(RootModel[str]):
    """A human-readable batch name: the seed's rule, enforced exactly."""

    model_config = ConfigDict(frozen=True)

    @field_validator("root", mode="before")
    @classmethod
    def _check(cls, value: object) -> str:
        return check_batch_name(value)

    @classmethod
    def of(cls, value: str) -> BatchName:
        """Validate `value`, raising `InvalidBatchNameError` (not pydantic's error).

        Args:
            value: a letter or digit, then letters, digits, `-` or `_`; at most 90.

        Returns:
            The batch name.

        Raises:
            InvalidBatchNameError: `value` breaks that rule.
        """
        return cls.model_construct(check_batch_name(value))

    def __str__(self) -> str:
        return self.root


class BatchId(BaseModel):
    """`<batch name>_<uuid4>`: names the job definition, the jobs and the S3 prefix of a batch."""

    model_config = ConfigDict(frozen=True)

    name: BatchName
    """The batch's name."""
    uuid: UUID
    """The UUID that makes the id unique."""

    @classmethod
    def new(cls, name: str | BatchName, uuid_factory: Callable[[], UUID] = uuid4) -> BatchId:
        """A fresh id for a batch called `name`.

        Args:
            name: the batch's name (checked as by `BatchName.of`).
            uuid_factory: makes the id's UUID (default: `uuid.uuid4`).

        Returns:
            `<name>_<uuid>`.

        Raises:
            InvalidBatchNameError: `name` is not a valid batch name.
        """
        batch_name = name if isinstance(name, BatchName) else BatchName.of(name)
        return cls(name=batch_name, uuid=uuid_factory())

    @classmethod
    def parse(cls, text: str) -> BatchId:
        """Read a batch id back from its string form.

        Args:
            text: `<name>_<uuid>`, the UUID in its canonical (lowercase, hyphenated) form.

        Returns:
            The batch id.

        Raises:
            InvalidBatchNameError: `text` is not a batch id.
        """
        if len(text) <= _UUID_LENGTH + 1 or text[-_UUID_LENGTH - 1] != "_":
            raise InvalidBatchNameError(
                f"{text!r} is not a batch id (<name>_<uuid>)", name=text, reason="batch-id"
            )
        name, tail = text[: -_UUID_LENGTH - 1], text[-_UUID_LENGTH:]
        try:
            parsed = UUID(tail)
        except ValueError as err:
            raise InvalidBatchNameError(
                f"{text!r} does not end in a UUID", name=text, reason="batch-id"
            ) from err
        if str(parsed) != tail:
            raise InvalidBatchNameError(
                f"{text!r} does not end in a canonical UUID", name=text, reason="batch-id"
            )
        return cls(name=BatchName.of(name), uuid=parsed)

    def __str__(self) -> str:
        return f"{self.name.root}_{self.uuid}"


def _check_environment(env: Mapping[str, str]) -> dict[str, str]:
    for key in env:
        if not _ENV_NAME.fullmatch(key):
            raise ValueError(f"environment variable name {key!r} is not a valid name")
        if key.startswith(RESERVED_ENV_PREFIX):
            raise ValueError(
                f"environment variable {key!r}: names may not start with {RESERVED_ENV_PREFIX}"
            )
        if key in RESERVED_VARIABLES:
            raise ValueError(f"environment variable {key!r} is set by pcr-sdk itself")
    return dict(env)


class JobDefinitionSpec(BaseModel):
    """What one batch's job definition asks of AWS Batch. Defaults: 1 vCPU, no GPU."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    image: str = Field(pattern=f"^{IMAGE_PATTERN}$")
    """The container image every job runs: up to 255 of `[A-Za-z0-9-_:./#]`, AWS's rule."""
    vcpus: int = Field(default=1, ge=1, le=MAX_VCPUS)
    """vCPUs per job (1 to 256)."""
    memory_mib: int = Field(default=1024, ge=MIN_MEMORY_MIB, le=MAX_MEMORY_MIB)
    """Memory per job, in MiB."""
    gpus: int = Field(default=0, ge=0, le=MAX_GPUS)
    """GPUs per job (0 to 64)."""
    timeout_seconds: int = Field(default=20 * 3600, ge=MIN_TIMEOUT_SECONDS)
    """Each job attempt's time limit, in seconds (at least 60)."""
    retry_attempts: int = Field(default=1, ge=1, le=MAX_RETRY_ATTEMPTS)
    """Attempts per job, the first included (1 to 10)."""
    retry_rules: tuple[RetryRule, ...] = Field(default=(), max_length=MAX_EVALUATE_ON_EXIT_RULES)
    """AWS's `evaluateOnExit`: which failures are retried (see `RetryPolicy`)."""
    environment: dict[str, str] = Field(default_factory=dict)
    """Extra environment variables of every job (pcr-sdk's own names are reserved)."""
    tags: dict[str, str] = Field(default_factory=dict, max_length=MAX_TAGS - 2)
    """Extra tags of the definition (the `aws:` and `pcr:` prefixes are reserved)."""
    job_role_arn: str | None = None
    """The IAM role the jobs' containers run with; None: none."""
    platform: Literal["EC2", "FARGATE"] = "EC2"
    """Where the jobs run: EC2 (or Spot) instances, or Fargate."""
    execution_role_arn: str | None = None
    """Fargate only: the role ECS pulls the image and writes logs with."""
    assign_public_ip: bool = True
    """Fargate only: tasks in public subnets need a public IP to reach ECR and S3."""

    @model_validator(mode="after")
    def _fargate(self) -> JobDefinitionSpec:
        if self.platform == "FARGATE":
            if self.gpus:
                raise ValueError("Fargate jobs cannot use GPUs")
            if self.vcpus not in FARGATE_VCPUS:
                raise ValueError(f"Fargate jobs take {sorted(FARGATE_VCPUS)} vCPUs")
            if not self.execution_role_arn:
                raise ValueError("Fargate jobs need an execution_role_arn")
        elif self.execution_role_arn:
            raise ValueError("execution_role_arn is for platform 'FARGATE'")
        return self

    @property
    def retry(self) -> RetryPolicy:
        """The definition's retry policy: `retry_attempts` attempts, `retry_rules` rules."""
        return RetryPolicy(attempts=self.retry_attempts, rules=self.retry_rules)

    @field_validator("environment")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_environment(value)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        for key, tag_value in value.items():
            if key.startswith(RESERVED_TAG_PREFIXES):
                raise ValueError(f"tag {key!r}: the prefixes aws: and pcr: are reserved")
            if not 1 <= len(key) <= MAX_TAG_KEY_LENGTH:
                raise ValueError(f"tag key {key[:40]!r}...: 1 to {MAX_TAG_KEY_LENGTH} characters")
            if len(tag_value) > MAX_TAG_VALUE_LENGTH:
                raise ValueError(f"tag {key!r}: the value has more than {MAX_TAG_VALUE_LENGTH} "
                                 "characters")  # fmt: skip
        return value

    @classmethod
    def build(cls, **fields: Any) -> JobDefinitionSpec:
        """Like the constructor, but raise `InvalidJobSpecError` naming the field.

        Args:
            **fields: the model's fields, as for the constructor.

        Returns:
            The validated spec.

        Raises:
            InvalidJobSpecError: a field is invalid; the error names the first one.
        """
        try:
            return cls(**fields)
        except ValidationError as err:
            first = err.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise InvalidJobSpecError(
                f"job definition: {field}: {first['msg']}", field=field
            ) from err


class S3Encryption(BaseModel):
    """Server-side encryption for the objects pcr-sdk writes: SSE-S3, or SSE-KMS with a key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    algorithm: Literal["AES256", "aws:kms"] = "AES256"
    """`"AES256"` (SSE-S3) or `"aws:kms"` (SSE-KMS)."""
    kms_key_id: str | None = None
    """With `"aws:kms"`: the KMS key (id, ARN or alias); None: the account's AWS managed key."""

    @model_validator(mode="after")
    def _key_only_for_kms(self) -> S3Encryption:
        if self.kms_key_id is not None and self.algorithm != "aws:kms":
            raise ValueError("kms_key_id goes with algorithm 'aws:kms'")
        return self


class JobSpec(BaseModel):
    """One job: its JSON input (already serialized) and the ids of the jobs it waits for.

    A pydantic model as input is serialized with `model_dump(mode="json")`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_json: str
    """The job's input, serialized as JSON."""
    depends_on: tuple[str, ...] = Field(default=(), max_length=MAX_DEPENDENCIES)
    """The ids of the jobs it waits for (at most 20, no duplicates)."""

    @field_validator("input_json")
    @classmethod
    def _is_json(cls, value: str) -> str:
        json.loads(value, parse_constant=_refuse_constant)
        return value

    @field_validator("depends_on")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not job_id for job_id in value):
            raise ValueError("a dependency id must not be empty")
        return tuple(dict.fromkeys(value))

    @classmethod
    def of(
        cls, data: object, depends_on: Sequence[str] | None = None, *, what: str = "job input"
    ) -> JobSpec:
        """Build from a JSON-serializable input; raise `InvalidJobSpecError` on bad input.

        Args:
            data: JSON-serializable data (no NaN or Infinity), or a pydantic model (serialized
                with `model_dump(mode="json")`).
            depends_on: ids of the jobs this one waits for (at most 20).
            what: names the input in the error (e.g. "input 17" of a `submit_jobs` call).

        Returns:
            The job spec, its input serialized.

        Raises:
            InvalidJobSpecError: `data` is not JSON-serializable, or too many dependencies.
        """
        deps = tuple(depends_on or ())
        if len(deps) > MAX_DEPENDENCIES:
            raise InvalidJobSpecError(
                f"a job may depend on at most {MAX_DEPENDENCIES} jobs, got {len(deps)}",
                field="depends_on",
            )
        if isinstance(data, BaseModel):
            data = data.model_dump(mode="json")
        try:
            return cls(input_json=dump_json(data, what=what), depends_on=deps)
        except ValidationError as err:
            raise InvalidJobSpecError(f"job spec: {err.errors()[0]['msg']}") from err

    @property
    def input(self) -> Any:
        """The job's input, parsed back from its JSON."""
        return json.loads(self.input_json)


def _refuse_constant(name: str) -> float:
    if name in ("NaN", "Infinity", "-Infinity"):
        raise ValueError(f"{name} is not JSON")
    return math.nan  # pragma: no cover - json only calls this for the three constants


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
