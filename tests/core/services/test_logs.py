"""`LogReader`: a job's log tail from CloudWatch Logs, errors mapped (Stubber; then a MotoWorld
whose Logs connection fails)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import Stubber

from pcr_sdk import AccessDeniedError, AwsConnectionError, JobSubmitter
from pcr_sdk._private.services.logs import LogReader
from pcr_sdk.testing import Fault, MotoWorld
from tests.support.fakes import FakeClock, NoCalls
from tests.support.submitters import new_submitter

pytestmark = pytest.mark.moto_world(polls_to_finish=1)  # for the test on a MotoWorld


def test_the_tail_is_the_last_lines_oldest_first_and_a_missing_stream_has_none() -> None:
    logs = NoCalls().clients.logs
    reader = LogReader(logs)
    asked = {"logGroupName": "/aws/batch/job", "logStreamName": "s", "limit": 2,
             "startFromHead": False}  # fmt: skip
    events = {"events": [{"message": m} for m in ("a", "b", "c")]}
    with Stubber(logs) as stubbed:
        stubbed.add_response("get_log_events", events, asked)
        stubbed.add_client_error(
            "get_log_events", "ResourceNotFoundException", expected_params=asked
        )
        stubbed.add_client_error("get_log_events", "AccessDeniedException", expected_params=asked)
        assert reader.tail("s", lines=2) == ["b", "c"]
        assert reader.tail("s", lines=2) == []  # the stream is gone (or never was)
        with pytest.raises(AccessDeniedError):
            reader.tail("s", lines=2)
        assert reader.tail("s", lines=0) == []  # no request
        stubbed.assert_no_pending_responses()


def make(world: MotoWorld, clock: FakeClock | None = None, **kw: Any) -> JobSubmitter:
    return new_submitter(world, clock, **{"polling_interval_seconds": 60, **kw})


@pytest.mark.integration
def test_logs_maps_connection_errors(moto_world: MotoWorld) -> None:
    """Defect 4: logs() let EndpointConnectionError escape."""
    sub = make(moto_world, polling_interval_seconds=0)
    moto_world.script.fail(index=0, exit_code=2, log_lines=["boom"])
    job_id = sub.submit_job({})
    sub.wait_until_jobs_finished()
    moto_world.faults.add(service="logs", kind=Fault.CONNECTION_ERROR, times=None)
    with pytest.raises(AwsConnectionError):
        sub.logs(job_id)
