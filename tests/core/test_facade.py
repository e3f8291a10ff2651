"""`JobSubmitter`: the facade over the services (what it adds: the resume hint, the seed's API)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from pcr_sdk import CredentialsExpiredError, JobSubmitter
from pcr_sdk.testing import MotoWorld
from tests.support.fakes import FakeClock
from tests.support.submitters import new_submitter

pytestmark = [pytest.mark.integration, pytest.mark.moto_world(polls_to_finish=1)]


def make(world: MotoWorld, clock: FakeClock | None = None, **kw: Any) -> JobSubmitter:
    return new_submitter(world, clock, **{"polling_interval_seconds": 60, **kw})


def test_expired_credentials_mid_wait_say_how_to_resume(moto_world: MotoWorld) -> None:
    """Defect 5: an expired token surfaced as a generic AwsError mid-wait."""
    sub = make(moto_world)
    sub.submit_job({})

    def expired(**_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "ExpiredTokenException", "Message": "token expired"}},
            "DescribeJobs",
        )

    moto_world.clients.batch.meta.events.register_first("before-call.batch.DescribeJobs", expired)
    with pytest.raises(CredentialsExpiredError) as raised:
        sub.wait_until_jobs_finished()
    message = str(raised.value)
    assert raised.value.batch_id == sub.get_batch_id()
    assert "JobSubmitter.attach" in message
    assert f"pcr wait {sub.get_batch_id()}" in message
    moto_world.clients.batch.meta.events.unregister("before-call.batch.DescribeJobs", expired)
