"""The world's set-up, its isolation from real AWS, SubmitJob capture, and clean exit."""

from __future__ import annotations

import inspect
import os
import threading
from pathlib import Path
from typing import Any

import boto3
import botocore.retries.standard
import botocore.retryhandler
import pytest
from moto import mock_aws

import pcr_sdk.testing
from pcr_sdk.testing import MotoWorld, SubmittedCall
from tests.support.jobs import Jobs

pytestmark = pytest.mark.integration


def test_world_provisions_queue_bucket_and_role(moto_world: MotoWorld) -> None:
    (queue,) = moto_world.clients.batch.describe_job_queues(jobQueues=[moto_world.queue])[
        "jobQueues"
    ]
    assert queue["jobQueueArn"] == moto_world.queue_arn
    assert queue["state"] == "ENABLED"
    (environment,) = moto_world.clients.batch.describe_compute_environments()["computeEnvironments"]
    assert environment["type"] == "UNMANAGED"
    assert environment["serviceRole"] == moto_world.role_arn
    location = moto_world.clients.s3.get_bucket_location(Bucket=moto_world.bucket)
    assert location["LocationConstraint"] == "eu-central-1"
    assert moto_world.session.region_name == moto_world.region == "eu-central-1"


def test_world_takes_its_names_and_region() -> None:
    with MotoWorld(region="us-east-1", bucket="other-bucket", queue="other-queue") as world:
        world.clients.s3.head_bucket(Bucket="other-bucket")
        assert world.queue_arn.startswith("arn:aws:batch:us-east-1:")
        assert world.queue_arn.endswith("/other-queue")


def test_world_hides_the_users_aws_configuration(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    credentials = tmp_path / "credentials"
    credentials.write_text("[default]\naws_access_key_id = REALKEY\naws_secret_access_key = x\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    before = dict(os.environ)

    with MotoWorld() as world:
        assert "AWS_PROFILE" not in os.environ
        assert "AWS_ENDPOINT_URL" not in os.environ
        assert os.environ["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull
        assert os.environ["AWS_CONFIG_FILE"] == os.devnull
        frozen = world.session.get_credentials()
        assert frozen is not None
        assert frozen.access_key == "testing"
        # a plain default client goes to the mock too (no endpoint override, no real keys)
        assert boto3.DEFAULT_SESSION is world.session
        boto3.client("s3").head_bucket(Bucket=world.bucket)

    assert dict(os.environ) == before


def originals() -> dict[str, Any]:
    return {
        "backoff": botocore.retries.standard.ExponentialBackoff.__dict__["delay_amount"],
        "legacy": botocore.retryhandler.delay_exponential,
        "session": boto3.DEFAULT_SESSION,
    }


def test_exit_undoes_every_patch() -> None:
    before = originals()
    with MotoWorld() as world:
        during = originals()
        assert all(during[name] != before[name] for name in before)
        world.clients.s3.list_objects_v2(Bucket=world.bucket)
    assert originals() == before


def test_exit_after_an_error_undoes_every_patch() -> None:
    before = originals()
    with pytest.raises(KeyError), MotoWorld():
        raise KeyError("boom")
    assert originals() == before


def test_plain_moto_behaves_as_usual_after_a_world() -> None:
    with MotoWorld():
        pass
    with mock_aws(config={"batch": {"use_docker": False}}):
        assert MotoWorld._active is None
        batch = boto3.client("batch", region_name="eu-central-1")
        assert batch.describe_jobs(jobs=[])["jobs"] == []


def test_worlds_do_not_nest_and_are_single_use() -> None:
    outer = MotoWorld()
    with outer:
        with pytest.raises(RuntimeError, match="nested"), MotoWorld():
            pass
        outer.clients.s3.head_bucket(Bucket=outer.bucket)  # the outer world is intact
    with pytest.raises(RuntimeError, match="once"), outer:
        pass
    with MotoWorld():  # and the next world starts cleanly
        pass


def test_world_must_be_entered_before_use() -> None:
    world = MotoWorld()
    with pytest.raises(RuntimeError, match="not entered"):
        _ = world.clients
    assert world.submitted() == []


def test_submitted_records_the_call_as_sent(jobs: Jobs) -> None:
    first = jobs.submit(0, {})
    response = jobs.world.clients.batch.submit_job(
        jobName="second",
        jobQueue=jobs.world.queue_arn,
        jobDefinition=jobs.definition,
        containerOverrides={"environment": [{"name": "A", "value": "1"}]},
        dependsOn=[{"jobId": first, "type": "SEQUENTIAL"}],
        timeout={"attemptDurationSeconds": 3600},
        tags={"team": "pcr"},
    )
    calls = jobs.world.submitted()

    assert [call.job_id for call in calls] == [first, response["jobId"]]
    assert calls[0].environment == jobs.layout.environment(bucket=jobs.world.bucket, index=0)
    assert calls[0].timeout_seconds is None
    assert calls[1] == SubmittedCall(
        job_id=response["jobId"],
        job_name="second",
        job_queue=jobs.world.queue_arn,
        job_definition=jobs.definition,
        environment={"A": "1"},
        depends_on=[first],
        timeout_seconds=3600,
        tags={"team": "pcr"},
        params=calls[1].params,
    )
    assert calls[1].params["timeout"] == {"attemptDurationSeconds": 3600}


def test_submitted_is_not_fooled_by_describes(jobs: Jobs) -> None:
    job_id = jobs.submit(0, {})
    for _ in range(3):
        jobs.describe(job_id)
    (call,) = jobs.world.submitted()
    assert "AWS_BATCH_JOB_ID" not in call.environment


def test_rejected_submission_is_recorded_without_job_id(moto_world: MotoWorld) -> None:
    with pytest.raises(moto_world.clients.batch.exceptions.ClientException):
        moto_world.clients.batch.submit_job(
            jobName="nope", jobQueue=moto_world.queue, jobDefinition="no-such-definition"
        )
    (call,) = moto_world.submitted()
    assert call.job_id is None
    assert call.job_definition == "no-such-definition"


def test_harness_calls_are_not_captured(moto_world: MotoWorld) -> None:
    moto_world.register_job_definition()
    assert moto_world.submitted() == []


def test_concurrent_submissions_are_all_captured(jobs: Jobs) -> None:
    def submit_many(start: int) -> None:
        for index in range(start, start + 10):
            jobs.submit(index, {"i": index})

    threads = [threading.Thread(target=submit_many, args=(k * 10,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    calls = jobs.world.submitted()
    assert len(calls) == 40
    assert all(call.job_id for call in calls)
    assert sorted(view.index or 0 for view in jobs.world.jobs()) == list(range(40))


def test_public_surface_is_exactly_all() -> None:
    for name in pcr_sdk.testing.__all__:
        getattr(pcr_sdk.testing, name)  # imported on first use
    assert dir(pcr_sdk.testing) == sorted(pcr_sdk.testing.__all__)
    public = {
        name
        for name, value in vars(pcr_sdk.testing).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    public -= {"annotations"}
    assert set(pcr_sdk.testing.__all__) == public
    assert sorted(pcr_sdk.testing.__all__) == sorted(set(pcr_sdk.testing.__all__))
