"""The boto3 clients pcr-sdk talks through, built only when asked for, never at import time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import boto3
from botocore.config import Config

from pcr_sdk._private.errors import PcrInputError
from pcr_sdk._private.model.settings import AwsSettings, check_region
from pcr_sdk._private.public import public

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_s3 import S3Client

DEFAULT_CONFIG: Final = Config(
    retries={"mode": "standard", "total_max_attempts": 8},
    max_pool_connections=32,
    user_agent_extra="pcr-sdk",
)


@public("pcr_sdk")
@dataclass(frozen=True)
class AwsClients:
    """The Batch, S3 and CloudWatch Logs clients of one account and region.

    Swapping this object is how a backend is swapped: moto in tests, the embedded local backend
    on a laptop, AWS in production. The services never branch on which one they talk to.
    """

    batch: BatchClient
    """The AWS Batch client."""
    s3: S3Client
    """The S3 client."""
    logs: CloudWatchLogsClient
    """The CloudWatch Logs client."""

    @classmethod
    def from_session(
        cls,
        session: boto3.Session | None = None,
        *,
        region_name: str | None = None,
        config: Config | None = None,
    ) -> AwsClients:
        """Clients from `session` (default: a new default session) with standard retries.

        Args:
            session: the boto3 session to make the clients from.
            region_name: the region of all three clients (default: the session's).
            config: a botocore `Config` merged over pcr-sdk's (standard retries).

        Returns:
            The Batch, S3 and CloudWatch Logs clients.
        """
        session = session or boto3.Session(region_name=region_name)
        cfg = DEFAULT_CONFIG.merge(config) if config else DEFAULT_CONFIG
        return cls(
            batch=session.client("batch", region_name=region_name, config=cfg),
            s3=session.client("s3", region_name=region_name, config=cfg),
            logs=session.client("logs", region_name=region_name, config=cfg),
        )


def clients_for(
    aws: AwsSettings, *, session: boto3.Session | None, clients: AwsClients | None
) -> AwsClients:
    """The clients to use: the given ones, or new ones from `session` or `aws`'s credentials.

    Builds clients only (no request); `PcrInputError` for a wrong type, both ways given at once,
    or no region to be found.
    """
    if clients is not None:
        if not isinstance(clients, AwsClients):
            raise PcrInputError(f"clients must be an AwsClients, not {type(clients).__name__}")
        if session is not None or aws.access_key_id or aws.secret_access_key:
            raise PcrInputError("pass either clients, or a session / credentials, not both")
        return clients
    if session is not None and not isinstance(session, boto3.Session):
        raise PcrInputError(f"session must be a boto3.Session, not {type(session).__name__}")
    if session is None:
        secret = aws.secret_access_key
        session = boto3.Session(
            aws_access_key_id=aws.access_key_id,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
            region_name=aws.region,
        )
    region = aws.region or session.region_name
    if not region:
        raise PcrInputError(
            "no AWS region: pass aws_region=..., or configure one (AWS_DEFAULT_REGION, "
            "or region in the profile's config)"
        )
    return AwsClients.from_session(session, region_name=check_region(region))
