"""Fixtures of the core's tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

import boto3
import pytest

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BUCKET: Final = "bkt"


@pytest.fixture
def s3() -> Iterator[S3Client]:
    """moto's S3 alone (no MotoWorld: what a job's container sees), with the bucket `bkt`."""
    from moto import mock_aws

    with mock_aws():
        client = boto3.client(
            "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
        )
        client.create_bucket(Bucket=BUCKET)
        yield client
