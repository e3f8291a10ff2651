"""The Batch engine's operations over its threaded scheduler, with a gated launcher: the statuses a
job shows, the container it gets, a Spot reclaim."""

from __future__ import annotations

import pytest

from pcr_sdk.local._engine import BatchEngine
from tests.support.local import (
    GatedLauncher,
    described,
    register,
    submit_to,
    wait_for,
)


def test_every_status_in_order(engine: BatchEngine, launcher: GatedLauncher) -> None:
    definition = register(engine)
    first = submit_to(engine, definition)
    second = submit_to(engine, definition, dependsOn=[{"jobId": first}])
    assert described(engine, first)["status"] == "SUBMITTED"  # the scheduler is not running yet

    engine.start()
    wait_for(engine, first, "STARTING")  # holds the only slot; the launch is gated
    assert described(engine, second)["status"] == "PENDING"
    launcher.gate(first).set()
    running = wait_for(engine, first, "RUNNING")
    assert running["startedAt"] == 1_700_000_000_000
    assert running["container"]["logStreamName"].startswith("d/default/")
    launcher.handle(first).finish(0)
    done = wait_for(engine, first, "SUCCEEDED")
    assert done["statusReason"] == "Essential container in task exited"
    wait_for(engine, second, "STARTING")
    launcher.gate(second).set()
    launcher.handle(second).finish(0)
    wait_for(engine, second, "SUCCEEDED")

    assert [run.job_id for run in launcher.runs] == [first, second]
    assert launcher.runs[0].environment["AWS_BATCH_JOB_ID"] == first
    assert launcher.runs[0].environment["AWS_BATCH_JQ_NAME"] == "q"
    assert launcher.runs[0].image == "img"


def test_reclaim_host_needs_a_started_job(engine: BatchEngine, launcher: GatedLauncher) -> None:
    job_id = submit_to(engine, register(engine))
    with pytest.raises(KeyError):
        engine.reclaim_host("no-such-job")
    with pytest.raises(ValueError, match="SUBMITTED"):
        engine.reclaim_host(job_id)
    engine.start()
    launcher.gate(job_id).set()
    wait_for(engine, job_id, "RUNNING")

    reason = engine.reclaim_host(job_id)
    done = wait_for(engine, job_id, "FAILED")

    assert launcher.handle(job_id).signals == ["SIGTERM", "SIGKILL"]
    assert done["statusReason"] == reason
    assert reason.startswith("Host EC2 (instance i-")
    assert "exitCode" not in done["container"]
