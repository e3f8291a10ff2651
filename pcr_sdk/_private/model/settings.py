"""Every setting of a JobSubmitter, validated into frozen objects before any client exists.

The seed's positional arguments and the keyword-only ones land here first: finite numbers
only, names in AWS's shapes, credentials kept as secrets. Nothing here makes a network call, so
a constructor that fails on a setting leaves nothing behind in AWS.
"""

from __future__ import annotations

import functools
import re
from typing import Annotated, Any, Final, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from pcr_sdk._private.errors import PcrInputError
from pcr_sdk._private.model.specs import S3Encryption

# botocore's own rule for region names (botocore.utils.validate_region_name)
_REGION: Final = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?$")
# DNS-style names, plus the uppercase and "_" that old us-east-1 buckets may have
_BUCKET: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{1,253}[A-Za-z0-9]$")
_ACCOUNT: Final = re.compile(r"^[0-9]{12}$")
_QUEUE: Final = re.compile(r"^(arn:\S+|[A-Za-z0-9_\-]{1,128})$")
MAX_IO_WORKERS: Final = 256

# Every default of a batch setting, written once: the settings models below, the facade's
# signature and the services' constructors all take them from here.
POLL_INTERVAL_SECONDS: Final = 60.0
"""The seed's pause between two polls."""
REQUEST_SPACING_MS: Final = 200.0
"""The seed's spacing between two poll requests."""
EXPIRY_SECONDS: Final = 5.0
"""Two DescribeJobs that miss a job this far apart make it EXPIRED."""
MIN_ADAPTIVE_INTERVAL_SECONDS: Final = 1.0
"""The shortest pause of an adaptive wait."""
LOST_ANSWER_SETTLE_SECONDS: Final = 2.0
"""The wait before looking for what a lost SubmitJob answer created."""
IO_WORKERS: Final = 16
"""Threads for uploads and output downloads."""
STALE_AFTER_SECONDS: Final = 600.0
"""A session (a process that may submit to a batch) or a rerun lease not renewed for this long
counts as ended; live ones are renewed ten times as often."""
MIN_STALE_AFTER_SECONDS: Final = 10.0

M = TypeVar("M", bound=BaseModel)

Seconds = Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)]
"""A finite, non-negative number of seconds (an int or a float; never a bool or a string)."""
PositiveNumber = Annotated[float, Field(strict=True, gt=0, allow_inf_nan=False)]
"""A finite number above 0."""
Count = Annotated[int, Field(strict=True, ge=1)]
"""An int of at least 1 (never a bool)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, strict=True)


class PollSettings(_Frozen):
    """How a wait polls: the seed's interval and request spacing, and when a job expires."""

    interval_seconds: Seconds = POLL_INTERVAL_SECONDS
    """The pause between two polling cycles (the longest one, when adaptive)."""
    request_spacing_ms: Seconds = REQUEST_SPACING_MS
    """The least spacing between two requests, in milliseconds."""
    adaptive: bool = False
    """Poll soon after a change, back off while nothing changes."""
    min_interval_seconds: Seconds = MIN_ADAPTIVE_INTERVAL_SECONDS
    """The shortest pause, when adaptive (at most `interval_seconds`)."""
    expiry_seconds: Seconds = EXPIRY_SECONDS
    """Two DescribeJobs that miss a job this far apart make it EXPIRED."""


class LostAnswerSettings(_Frozen):
    """What happens after SubmitJob or RegisterJobDefinition lost its answer."""

    settle_seconds: Seconds = LOST_ANSWER_SETTLE_SECONDS
    """Wait before looking again, so ListJobs' lag does not turn into a duplicate job."""
    attempts: int | None = Field(default=None, ge=1, le=20)
    """Sends in all; None: as many as the client's botocore retry setting allows."""


class StoreSettings(_Frozen):
    """The job bucket and how pcr-sdk writes to it."""

    bucket: str
    expected_bucket_owner: str | None = None
    encryption: S3Encryption | None = None
    io_workers: int = Field(default=IO_WORKERS, ge=1, le=MAX_IO_WORKERS)

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, value: str) -> str:
        if not _BUCKET.fullmatch(value) or ".." in value:
            raise ValueError(
                f"{value!r} is not an S3 bucket name (3-63 lowercase letters, digits, '.', '-')"
            )
        return value

    @field_validator("expected_bucket_owner")
    @classmethod
    def _owner(cls, value: str | None) -> str | None:
        if value is not None and not _ACCOUNT.fullmatch(value):
            raise ValueError(f"{value!r} is not a 12-digit AWS account id")
        return value


class SessionSettings(_Frozen):
    """How processes that share a batch learn who may still submit to it."""

    stale_after_seconds: Annotated[
        float, Field(strict=True, ge=MIN_STALE_AFTER_SECONDS, allow_inf_nan=False)
    ] = STALE_AFTER_SECONDS
    """A session or rerun lease not renewed for this long counts as ended."""

    @property
    def heartbeat_seconds(self) -> float:
        """How often a live session (and a held lease) is renewed: ten times per
        `stale_after_seconds`."""
        return self.stale_after_seconds / 10


class BatchSettings(_Frozen):
    """Where a batch's jobs go, and how it is watched and ended."""

    job_queue: str
    store: StoreSettings
    poll: PollSettings = PollSettings()
    lost_answers: LostAnswerSettings = LostAnswerSettings()
    sessions: SessionSettings = SessionSettings()
    cancel_on_error: bool = False

    @field_validator("job_queue")
    @classmethod
    def _queue(cls, value: str) -> str:
        if not _QUEUE.fullmatch(value):
            raise ValueError(f"{value!r} is not a job queue name (or ARN)")
        return value


class AwsSettings(_Frozen):
    """Region and static credentials, if given (the secret never leaves a SecretStr here)."""

    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not _REGION.fullmatch(value):
            raise ValueError(f"{value!r} is not a region name (e.g. 'eu-central-1')")
        return value


def build(model: type[M], **fields: Any) -> M:
    """`model(**fields)`, raising `PcrInputError` that names the setting instead of pydantic's."""
    try:
        return model(**fields)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or model.__name__
        shown = "" if "secret" in where else f" (got {first.get('input')!r})"
        raise PcrInputError(f"{where}: {first['msg']}{shown}") from err


def check_region(region: str) -> str:
    """`region` if it is a region name (botocore's rule), else `PcrInputError`."""
    if not _REGION.fullmatch(region):
        raise PcrInputError(f"the configured region {region!r} is not a region name")
    return region


@functools.cache
def _adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


def _checked(name: str, value: object, kind: Any) -> Any:
    try:
        return _adapter(kind).validate_python(value)
    except ValidationError as err:
        raise PcrInputError(f"{name}: {err.errors()[0]['msg']} (got {value!r})") from err


def seconds(name: str, value: object) -> float:
    """`value` as `Seconds` (finite, >= 0), else `PcrInputError` naming `name`.

    This, `positive` and `count` check the loose arguments (a wait's timeout, a governor's
    period and rate) by the same pydantic rules as the settings models.
    """
    return float(_checked(name, value, Seconds))


def positive(name: str, value: object) -> float:
    """`value` as a `PositiveNumber` (finite, > 0), else `PcrInputError` naming `name`."""
    return float(_checked(name, value, PositiveNumber))


def finite(name: str, value: object) -> float:
    """`value` as a finite number (an int or a float, never a bool), else `PcrInputError`."""
    return float(_checked(name, value, Annotated[float, Field(strict=True, allow_inf_nan=False)]))


def count(name: str, value: object, *, low: int = 1) -> int:
    """`value` as an int >= `low` (never a bool), else `PcrInputError` naming `name`."""
    return int(_checked(name, value, Annotated[int, Field(strict=True, ge=low)]))


def timeout_seconds(timeout: float | None) -> float | None:
    """A wait's timeout: None (no limit) or a finite number of seconds >= 0."""
    return None if timeout is None else seconds("timeout", timeout)
