"""The local backend on the wire: a plain boto3 client that pcr-sdk never touched, pointed at
`endpoint_url` through the default credential chain and `AWS_ENDPOINT_URL`, reaches the engine
for AWS Batch and CloudWatch Logs and moto for S3; so does a job through the endpoint it is
given. Job logs live in files, and a chatty job does not grow the backend's process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Final

import boto3
import pytest
from botocore.exceptions import ClientError

from pcr_sdk.local import LocalBackend
from tests.support.local import WORKERS

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_batch.type_defs import JobDetailTypeDef

pytestmark = pytest.mark.subprocess


CHATTY_HOLDER: Final = WORKERS / "local_chatty_holder.py"
MOTO_SERVER_ONLY: Final = frozenset(
    {"cfnlint", "sympy", "networkx", "docker", "aws_xray_sdk", "openapi_spec_validator"}
    | {"graphql", "antlr4", "joserfc", "jsonpath_ng", "jsonschema", "pyparsing"}
)
"""Top-level modules that moto[server] installs and the `local` extra does not."""
SELF_DESCRIBING: Final = """
import json, os, boto3
me = boto3.client("batch").describe_jobs(jobs=[os.environ["AWS_BATCH_JOB_ID"]])["jobs"][0]
print(json.dumps({"seen": me["jobId"], "status": me["status"], "name": me["jobName"]}))
"""
"""A job that asks AWS Batch about itself through the AWS_ENDPOINT_URL it was given."""


@pytest.fixture
def plain(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LocalBackend, boto3.Session]]:
    """A backend, and a boto3 session of the default chain, configured by environment only."""
    with LocalBackend(vcpus=2, memory_mib=2048) as backend:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        for name, value in backend.client_environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        yield backend, boto3.Session()


def _finished(batch: BatchClient, job_id: str) -> JobDetailTypeDef:
    deadline = time.monotonic() + 30
    while True:
        job = batch.describe_jobs(jobs=[job_id])["jobs"][0]
        if job["status"] in ("SUCCEEDED", "FAILED"):
            return job
        assert time.monotonic() < deadline, job["status"]
        time.sleep(0.05)


def test_a_plain_boto3_client_runs_a_job_that_sees_itself(
    plain: tuple[LocalBackend, boto3.Session],
) -> None:
    backend, session = plain
    batch = session.client("batch")
    logs = session.client("logs")
    s3 = session.client("s3")
    assert batch.meta.endpoint_url == backend.endpoint_url  # from AWS_ENDPOINT_URL only

    arn = batch.register_job_definition(
        jobDefinitionName="wire",
        type="container",
        containerProperties={
            "image": "python",
            "vcpus": 1,
            "memory": 256,
            "command": [sys.executable, "-c", SELF_DESCRIBING],
        },
        tags={"team": "wire"},
    )["jobDefinitionArn"]
    job_id = batch.submit_job(jobName="wire-job", jobQueue=backend.queue, jobDefinition=arn)[
        "jobId"
    ]
    job = _finished(batch, job_id)

    assert job["status"] == "SUCCEEDED", job.get("statusReason")
    listed = batch.list_jobs(jobQueue=backend.queue, jobStatus="SUCCEEDED")["jobSummaryList"]
    assert [summary["jobId"] for summary in listed] == [job_id]
    events = logs.get_log_events(
        logGroupName="/aws/batch/job", logStreamName=job["container"]["logStreamName"]
    )["events"]
    seen = json.loads(events[-1]["message"])
    assert seen == {"seen": job_id, "status": "RUNNING", "name": "wire-job"}
    # a path parameter (the ARN, percent-encoded) and a query string reach the engine intact
    assert batch.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "wire"}
    batch.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert batch.list_tags_for_resource(resourceArn=arn)["tags"] == {}
    # S3 on the same endpoint is moto's
    s3.put_object(Bucket=backend.bucket, Key="wire/x.json", Body=b"{}")
    assert s3.get_object(Bucket=backend.bucket, Key="wire/x.json")["Body"].read() == b"{}"
    # errors arrive as AWS shapes them
    with pytest.raises(batch.exceptions.ClientException, match="JobDefinition nope not found"):
        batch.submit_job(jobName="x", jobQueue=backend.queue, jobDefinition="nope")
    with pytest.raises(ClientError, match="not implemented by pcr-sdk's local backend"):
        batch.list_scheduling_policies()
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_log_events(logGroupName="/aws/batch/job", logStreamName="nope")
    log_dir = backend.log_dir
    assert [path.name for path in log_dir.rglob("*.log")] == [
        job["container"]["logStreamName"].rsplit("/", 1)[1] + ".log"
    ]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmRSS from /proc")
def test_a_chatty_job_does_not_grow_the_backends_process() -> None:
    """A million log lines (and one of 600,000 characters) cost the backend under 8 MiB.

    The same run (S3, Batch, Logs, jobs) imports nothing the `local` extra leaves out.
    """
    done = subprocess.run(
        [sys.executable, str(CHATTY_HOLDER), "1000000"],
        capture_output=True,
        text=True,
        timeout=100,
        check=True,
    )
    report = json.loads(done.stdout)

    assert report["status"] == "SUCCEEDED"
    growth_kib = report["after_kib"] - report["before_kib"]
    assert growth_kib < 8 * 1024, f"VmRSS {report['before_kib']} -> {report['after_kib']} KiB"
    assert report["tail"] == ["line 999999", "x" * 262_144, "x" * 262_144, "x" * 75_712, "done"]
    # what `pcr-sdk[local]` leaves out (moto[server]'s extras) is never needed
    assert set(report["imported"]) & MOTO_SERVER_ONLY == set()
