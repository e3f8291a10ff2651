"""The run-time rows of CONTRIBUTING.md's error table, on a MotoWorld: each a typed error."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from pcr_sdk import (
    AccessDeniedError,
    BucketNotFoundError,
    JobNotFoundError,
    JobQueueNotFoundError,
    JobSubmitter,
    OutputMalformedError,
    SilentProgress,
)
from pcr_sdk.advanced import Seams
from pcr_sdk.testing import MotoWorld
from tests.support.fakes import FakeClock

pytestmark = pytest.mark.integration


def submitter(world: MotoWorld, **kw: Any) -> JobSubmitter:
    clock = FakeClock()
    return JobSubmitter(
        kw.pop("name", "bad-input"),
        kw.pop("queue", world.queue),
        "img",
        world.bucket,
        clients=world.clients,
        seams=Seams(clock=clock, sleep=clock.sleep),
        progress=SilentProgress(),
        **kw,
    )


def test_unknown_job_id(moto_world: MotoWorld) -> None:
    s = submitter(moto_world)
    for call in (s.get_output, s.get_output_json, s.get_result, s.get_job_directory):
        with pytest.raises(JobNotFoundError):
            call("not-a-job")
    s.close()


def test_malformed_output_is_a_typed_error_but_none_in_the_seed_api(moto_world: MotoWorld) -> None:
    s = submitter(moto_world)
    job_id = s.submit_job({})
    moto_world.clients.s3.put_object(
        Bucket=moto_world.bucket, Key=f"{s.get_job_directory(job_id)}/output.json", Body=b"{oops"
    )
    with pytest.raises(OutputMalformedError):
        s.get_output_json(job_id)
    assert s.get_output(job_id) == "{oops"  # the seed API returns the string as it is
    s.close()


def test_missing_bucket(moto_world: MotoWorld) -> None:
    """The constructor writes the batch's session to the bucket: it fails there, and
    deregisters the definition it registered."""
    with pytest.raises(BucketNotFoundError) as info:
        JobSubmitter(
            "b", moto_world.queue, "img", "no-such-bucket", clients=moto_world.clients,
            progress=SilentProgress(),
        )  # fmt: skip
    assert info.value.bucket == "no-such-bucket"
    found = moto_world.clients.batch.describe_job_definitions(status="ACTIVE")
    assert [d for d in found["jobDefinitions"] if d["jobDefinitionName"].startswith("b_")] == []


def test_wrong_queue_or_region(moto_world: MotoWorld) -> None:
    s = submitter(moto_world, queue="no-such-queue")
    with pytest.raises(JobQueueNotFoundError) as info:
        s.submit_job({})
    assert info.value.job_queue == "no-such-queue"
    s.close()


def test_access_denied(moto_world: MotoWorld) -> None:
    s = submitter(moto_world)

    def deny(**_: Any) -> None:

        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}, "SubmitJob"
        )

    moto_world.clients.batch.meta.events.register_first("before-call.batch.SubmitJob", deny)
    with pytest.raises(AccessDeniedError):
        s.submit_job({})
    s.close()
