"""`pcr retry`: rerun a batch's failed jobs from the command line (MotoWorld)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from pcr_sdk import JobSubmitter, SilentProgress
from pcr_sdk.advanced import Seams
from pcr_sdk.cli._app import app
from pcr_sdk.testing import MotoWorld
from tests.support.fakes import FakeClock

pytestmark = pytest.mark.subprocess


def retry(world: MotoWorld, *args: str) -> Result:
    clock = FakeClock()
    runtime = SimpleNamespace(aws_clients=lambda region: world.clients, clock=clock,
                              sleep=clock.sleep)  # fmt: skip
    where = ["--queue", world.queue, "--bucket", world.bucket]
    return CliRunner().invoke(app, ["retry", *args, *where], obj=runtime)


def failed_batch(world: MotoWorld, broken: set[int]) -> str:
    def work(data: Any) -> dict[str, int]:
        if data["n"] in broken:
            raise ValueError("broken")
        return {"n": data["n"]}

    world.script.worker(work)
    clock = FakeClock()
    with JobSubmitter(
        "cli-retry", world.queue, "img", world.bucket, clients=world.clients,
        progress=SilentProgress(), seams=Seams(clock=clock, sleep=clock.sleep),
    ) as sub:  # fmt: skip
        sub.submit_jobs([{"n": n} for n in range(4)], array=False)
        sub.wait_until_jobs_finished()
        return sub.get_batch_id()


def test_retry_reruns_the_failed_jobs_and_waits(moto_world: MotoWorld) -> None:
    broken = {1, 2}
    batch_id = failed_batch(moto_world, broken)
    nothing = retry(moto_world, batch_id, "--kind", "timeout")
    assert nothing.exit_code == 0, nothing.stderr
    assert json.loads(nothing.stdout) == {"batch_id": batch_id, "resubmitted": []}
    broken.clear()
    result = retry(moto_world, batch_id, "--wait")
    assert result.exit_code == 0, result.stderr
    line = json.loads(result.stdout)
    assert len(line["resubmitted"]) == 2
    assert line["counts"] == {"SUCCEEDED": 4}
    assert "resubmitted 2 job(s)" in result.stderr
    found = moto_world.clients.batch.describe_job_definitions(jobDefinitionName=batch_id)
    assert {d["status"] for d in found["jobDefinitions"]} == {"INACTIVE"}


def test_retry_exits_1_when_jobs_fail_again_and_2_on_a_bad_kind(moto_world: MotoWorld) -> None:
    batch_id = failed_batch(moto_world, {3})
    again = retry(moto_world, batch_id, "--wait", "--kind", "non-zero-exit")
    assert again.exit_code == 1
    assert json.loads(again.stdout)["counts"] == {"SUCCEEDED": 3, "FAILED": 1}
    for kind in ("bogus", "dependency-failed"):
        bad = retry(moto_world, batch_id, "--kind", kind)
        assert bad.exit_code == 2
        assert "pcr: error:" in bad.stderr
        assert "Traceback" not in bad.stderr
    missing = retry(moto_world, "nope_00000000-0000-4000-8000-000000000000")
    assert missing.exit_code == 1
    assert "no job definition" in missing.stderr
