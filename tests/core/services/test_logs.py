"""`LogReader`: a job's log tail from CloudWatch Logs, errors mapped."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pcr_sdk import AwsConnectionError, JobSubmitter
from pcr_sdk.testing import Fault, MotoWorld
from tests.support.fakes import FakeClock
from tests.support.submitters import new_submitter

pytestmark = pytest.mark.integration


@pytest.fixture
def world() -> Iterator[MotoWorld]:
    with MotoWorld(polls_to_finish=1) as w:
        yield w


def make(world: MotoWorld, clock: FakeClock | None = None, **kw: Any) -> JobSubmitter:
    return new_submitter(world, clock, **{"polling_interval_seconds": 60, **kw})


def test_logs_maps_connection_errors(world: MotoWorld) -> None:
    """Defect 4: logs() let EndpointConnectionError escape."""
    sub = make(world, polling_interval_seconds=0)
    world.script.fail(index=0, exit_code=2, log_lines=["boom"])
    job_id = sub.submit_job({})
    sub.wait_until_jobs_finished()
    world.faults.add(service="logs", kind=Fault.CONNECTION_ERROR, times=None)
    with pytest.raises(AwsConnectionError):
        sub.logs(job_id)
