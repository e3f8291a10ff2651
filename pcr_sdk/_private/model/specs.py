"""What a batch asks of AWS Batch: its job definition, each job's input and dependencies,
S3 encryption.

Every AWS Batch limit that can be checked without a network call is checked here; the limits
themselves live in `pcr_sdk._private.wire.facts`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, Literal, TypeAlias, overload

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from pcr_sdk._private.errors import InvalidJobSpecError
from pcr_sdk._private.model.retry_policy import RetryPolicy, RetryRule
from pcr_sdk._private.public import public
from pcr_sdk._private.wire.facts import (
    FARGATE_MEMORY_MIB,
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
)
from pcr_sdk._private.wire.jsonio import JsonValue, dump_json
from pcr_sdk._private.wire.layout import RESERVED_VARIABLES

_ENV_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


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


@public("pcr_sdk")
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
            sizes = FARGATE_MEMORY_MIB[self.vcpus]
            if self.memory_mib not in sizes:
                raise ValueError(
                    f"Fargate jobs with {self.vcpus} vCPUs take {sizes[0]} to {sizes[-1]} MiB "
                    f"of memory in steps of {sizes[1] - sizes[0]} (memory_mib={self.memory_mib})"
                )
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


@public("pcr_sdk")
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


JobInput: TypeAlias = JsonValue | Mapping[str, object] | BaseModel
"""What a job takes as its input: JSON data (`JsonValue`), or a pydantic model (serialized
with `model_dump(mode="json")`). A string-keyed mapping is taken whatever its values' types,
because type checkers match a `TypedDict` only against `Mapping[str, object]`; its values are
checked when it is serialized, before any call (`InvalidJobSpecError`)."""


@public("pcr_sdk.advanced")
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
        cls, data: JobInput, depends_on: Sequence[str] | None = None, *, what: str = "job input"
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
        try:
            return cls(input_json=_input_text(data, what), depends_on=deps)
        except ValidationError as err:
            raise InvalidJobSpecError(f"job spec: {err.errors()[0]['msg']}") from err

    @property
    def input(self) -> Any:
        """The job's input, parsed back from its JSON."""
        return json.loads(self.input_json)


def _input_text(data: JobInput, what: str) -> str:
    plain = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
    return dump_json(plain, what=what, string_keys=True)


class CheckedInputs(Sequence[JobSpec]):
    """Many jobs' inputs, each checked and measured once, then serialized again only when its
    job is sent, so that their JSON texts are never all held at once: an array of 600 MB of
    inputs would otherwise hold 600 MB more while it is packed and uploaded.

    The inputs themselves are kept as given (a pydantic model too, not its dump). One whose JSON
    has changed size between the check and its upload is refused then (`InvalidJobSpecError`).
    """

    __slots__ = ("_data", "_depends_on", "_sizes", "_start")

    def __init__(
        self,
        data: Sequence[JobInput],
        sizes: Sequence[int],
        depends_on: tuple[str, ...],
        start: int = 0,
    ) -> None:
        self._data = data
        self._sizes = sizes
        self._depends_on = depends_on
        self._start = start  # the first one's position in the call, for messages

    @classmethod
    def check(
        cls, inputs: Iterable[JobInput], depends_on: Sequence[str] | None = None
    ) -> CheckedInputs:
        """Check every input as `JobSpec.of` does (the error names `input i`), keeping only
        its size.

        Args:
            inputs: the jobs' inputs, as for `JobSpec.of`.
            depends_on: the ids every one of these jobs waits for (at most 20).

        Returns:
            The inputs, checked.

        Raises:
            InvalidJobSpecError: an input is not JSON-serializable, or too many dependencies.
        """
        deps = JobSpec.of({}, depends_on).depends_on  # checked as one job's
        data: list[JobInput] = []
        sizes: list[int] = []
        for data_i in inputs:
            sizes.append(utf8_size(_input_text(data_i, f"input {len(data)}")))
            data.append(data_i)
        return cls(data, sizes, deps)

    @property
    def depends_on(self) -> tuple[str, ...]:
        """The ids every one of these jobs waits for."""
        return self._depends_on

    @property
    def sizes(self) -> Sequence[int]:
        """Each input's JSON size in UTF-8 bytes, as checked."""
        return self._sizes

    def encoded(self, i: int) -> bytes:
        """Input `i`'s JSON in UTF-8, serialized again; refused if its size changed since checked.

        Args:
            i: the input's position in these inputs.

        Returns:
            Its JSON text, in UTF-8.

        Raises:
            InvalidJobSpecError: the input is no longer JSON, or its JSON changed size.
        """
        what = f"input {self._start + i}"
        body = _input_text(self._data[i], what).encode()
        if len(body) != self._sizes[i]:
            raise InvalidJobSpecError(
                f"{what} changed while it was being submitted ({self._sizes[i]} bytes of JSON "
                f"when checked, {len(body)} now)",
                field=what,
            )
        return body

    def __len__(self) -> int:
        return len(self._sizes)

    @overload
    def __getitem__(self, index: int) -> JobSpec: ...

    @overload
    def __getitem__(self, index: slice) -> CheckedInputs: ...

    def __getitem__(self, index: int | slice) -> JobSpec | CheckedInputs:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                raise ValueError("CheckedInputs slices take no step")
            return CheckedInputs(
                self._data[start:stop], self._sizes[start:stop], self._depends_on,
                self._start + start,
            )  # fmt: skip
        i = range(len(self))[index]
        # checked already: model_construct skips parsing the text back
        return JobSpec.model_construct(
            input_json=self.encoded(i).decode(), depends_on=self._depends_on
        )


def utf8_size(text: str) -> int:
    """The length of `text` in UTF-8 bytes."""
    return len(text) if text.isascii() else len(text.encode())


def _refuse_constant(name: str) -> float:
    if name in ("NaN", "Infinity", "-Infinity"):
        raise ValueError(f"{name} is not JSON")
    return math.nan  # pragma: no cover - json only calls this for the three constants
