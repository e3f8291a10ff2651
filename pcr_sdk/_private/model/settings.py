"""Every setting of a JobSubmitter, validated into frozen objects before any client exists.

The seed's positional arguments and the keyword-only ones land here first: finite numbers
only, names in AWS's shapes, credentials kept as secrets. Nothing here makes a network call, so
a constructor that fails on a setting leaves nothing behind in AWS.
"""

from __future__ import annotations

import math
import re
from typing import Any, Final, TypeVar

import boto3
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from pcr_sdk._private.edge.clients import AwsClients
from pcr_sdk._private.errors import PcrInputError
from pcr_sdk._private.model.specs import S3Encryption

# botocore's own rule for region names (botocore.utils.validate_region_name)
_REGION: Final = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?$")
# DNS-style names, plus the uppercase and "_" that old us-east-1 buckets may have
_BUCKET: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{1,253}[A-Za-z0-9]$")
_ACCOUNT: Final = re.compile(r"^[0-9]{12}$")
_QUEUE: Final = re.compile(r"^(arn:\S+|[A-Za-z0-9_\-]{1,128})$")
MAX_IO_WORKERS: Final = 256

M = TypeVar("M", bound=BaseModel)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class PollSettings(_Frozen):
    """How a wait polls: the seed's interval and request spacing, and when a job expires."""

    interval_seconds: float = Field(default=60, ge=0)
    request_spacing_ms: float = Field(default=200, ge=0)
    adaptive: bool = False
    expiry_seconds: float = Field(default=5.0, ge=0)
    """Two DescribeJobs that miss a job this far apart make it EXPIRED."""


class LostAnswerSettings(_Frozen):
    """What happens after SubmitJob or RegisterJobDefinition lost its answer."""

    settle_seconds: float = Field(default=2.0, ge=0)
    """Wait before looking again, so ListJobs' lag does not turn into a duplicate job."""
    attempts: int | None = Field(default=None, ge=1, le=20)
    """Sends in all; None: as many as the client's botocore retry setting allows."""


class StoreSettings(_Frozen):
    """The job bucket and how pcr-sdk writes to it."""

    bucket: str
    expected_bucket_owner: str | None = None
    encryption: S3Encryption | None = None
    io_workers: int = Field(default=16, ge=1, le=MAX_IO_WORKERS)

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


class BatchSettings(_Frozen):
    """Where a batch's jobs go, and how it is watched and ended."""

    job_queue: str
    store: StoreSettings
    poll: PollSettings = PollSettings()
    lost_answers: LostAnswerSettings = LostAnswerSettings()
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

    def clients(self, *, session: boto3.Session | None, clients: AwsClients | None) -> AwsClients:
        """The clients to use: the given ones, or new ones from `session` or these settings.

        Builds clients only (no request). Raises `PcrInputError` if no region can be found.
        """
        if clients is not None:
            if session is not None or self.access_key_id or self.secret_access_key:
                raise PcrInputError("pass either clients, or a session / credentials, not both")
            return clients
        if session is None:
            secret = self.secret_access_key
            session = boto3.Session(
                aws_access_key_id=self.access_key_id,
                aws_secret_access_key=secret.get_secret_value() if secret else None,
                region_name=self.region,
            )
        region = self.region or session.region_name
        if not region:
            raise PcrInputError(
                "no AWS region: pass aws_region=..., or configure one (AWS_DEFAULT_REGION, "
                "or region in the profile's config)"
            )
        if not _REGION.fullmatch(region):
            raise PcrInputError(f"the configured region {region!r} is not a region name")
        return AwsClients.from_session(session, region_name=region)


def build(model: type[M], **fields: Any) -> M:
    """`model(**fields)`, raising `PcrInputError` that names the setting instead of pydantic's."""
    try:
        return model(**fields)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or model.__name__
        shown = "" if "secret" in where else f" (got {first.get('input')!r})"
        raise PcrInputError(f"{where}: {first['msg']}{shown}") from err


def finite(name: str, value: object) -> float:
    """`value` as a finite float, else `PcrInputError` naming `name`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise PcrInputError(f"{name} must be a finite number, got {value!r}")
    return float(value)
