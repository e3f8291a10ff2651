"""The boto3 clients pcr-sdk talks through, built only when asked for, never at import time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import boto3
from botocore.config import Config

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
