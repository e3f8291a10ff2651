"""pcr_sdk.worker: the container side reads the contract and moves JSON through S3."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from pcr_sdk import BatchLayout, InvalidJobSpecError, WorkerEnvironmentError
from pcr_sdk.worker import JobContext, run

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BATCH = "example_c6bc6ee9-0000-4000-8000-000000000000"
BUCKET = "bkt"


@pytest.fixture
def s3() -> Iterator[S3Client]:
    with mock_aws():
        client = boto3.client(
            "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
        )
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def environ(s3: S3Client) -> dict[str, str]:
    layout = BatchLayout(BATCH)
    s3.put_object(Bucket=BUCKET, Key=layout.config_key(0), Body=b'{"x": 2, "y": 3}')
    return {**layout.environment(bucket=BUCKET, index=0), "AWS_BATCH_JOB_ID": "job-1"}


def test_from_env_names_every_missing_variable() -> None:
    with pytest.raises(WorkerEnvironmentError) as info:
        JobContext.from_env({"S3_JOB_BUCKET": "b", "BATCH_ID": "x"})
    assert info.value.missing == ("S3_JOB_CONFIG_KEY", "S3_JOB_PREFIX", "S3_OUTPUT_OJBECT_KEY")
    assert "S3_OUTPUT_OJBECT_KEY" in str(info.value)


@pytest.mark.integration
def test_run_computes_and_writes_the_output(s3: S3Client, environ: dict[str, str]) -> None:
    def handler(data: Any) -> dict[str, int]:
        return {"x+y": data["x"] + data["y"], "x*y": data["x"] * data["y"]}

    run(handler, environ=environ, s3=s3)
    body = s3.get_object(Bucket=BUCKET, Key=environ["S3_OUTPUT_OJBECT_KEY"])["Body"].read()
    assert json.loads(body) == {"x+y": 5, "x*y": 6}


@pytest.mark.integration
def test_a_failing_handler_exits_1_and_writes_nothing(
    s3: S3Client, environ: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    def handler(data: Any) -> object:
        raise ValueError("boom")

    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as info:
        run(handler, environ=environ, s3=s3)
    assert info.value.code == 1
    assert "boom" in caplog.text
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=environ["S3_JOB_PREFIX"])
    assert [o["Key"] for o in listed["Contents"]] == [environ["S3_JOB_CONFIG_KEY"]]


@pytest.mark.integration
def test_resources_live_under_the_job_prefix(s3: S3Client, environ: dict[str, str]) -> None:
    context = JobContext.from_env(environ, s3=s3)
    uri = context.put_resource("arrays/x.bin", b"\x00\x01")
    assert uri == f"s3://{BUCKET}/{environ['S3_JOB_PREFIX']}/arrays/x.bin"
    assert context.get_resource("arrays/x.bin") == b"\x00\x01"
    with pytest.raises(InvalidJobSpecError):
        context.put_resource("../other-job/x", b"")


@pytest.mark.integration
def test_output_must_be_strict_json(s3: S3Client, environ: dict[str, str]) -> None:
    with pytest.raises(InvalidJobSpecError):
        JobContext.from_env(environ, s3=s3).save_output({"x": float("nan")})
