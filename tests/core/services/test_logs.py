"""`LogReader`: a job's log tail from CloudWatch Logs, errors mapped."""

from __future__ import annotations

from typing import Any

import pytest

from pcr_sdk import AwsConnectionError, JobSubmitter
from pcr_sdk.testing import Fault, MotoWorld
from tests.support.fakes import FakeClock
from tests.support.submitters import new_submitter

pytestmark = [pytest.mark.integration, pytest.mark.moto_world(polls_to_finish=1)]


def make(world: MotoWorld, clock: FakeClock | None = None, **kw: Any) -> JobSubmitter:
    return new_submitter(world, clock, **{"polling_interval_seconds": 60, **kw})


def test_logs_maps_connection_errors(moto_world: MotoWorld) -> None:
    """Defect 4: logs() let EndpointConnectionError escape."""
    sub = make(moto_world, polling_interval_seconds=0)
    moto_world.script.fail(index=0, exit_code=2, log_lines=["boom"])
    job_id = sub.submit_job({})
    sub.wait_until_jobs_finished()
    moto_world.faults.add(service="logs", kind=Fault.CONNECTION_ERROR, times=None)
    with pytest.raises(AwsConnectionError):
        sub.logs(job_id)
