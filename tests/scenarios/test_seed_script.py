"""A seed user's script, unchanged apart from its import line, against pcr_sdk.testing's world."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pcr_sdk.testing import MotoWorld

pytestmark = pytest.mark.integration  # every test here runs on a MotoWorld


@pytest.mark.moto_world(region="eu-central-1", polls_to_finish=2)
def test_seed_usage_runs_unchanged(
    moto_world: MotoWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    moto_world.script.worker(lambda d: {"x+y": d["x"] + d["y"], "x*y": d["x"] * d["y"]})
    seed_script(moto_world.queue, moto_world.bucket)
    out = capsys.readouterr().out
    assert "Jobs finished: 10/10" in out
    assert "RESULT " + json.dumps([{"x+y": i + 3, "x*y": i * 3} for i in range(10)]) in out


def seed_script(queue: str, bucket: str) -> None:
    # --- the seed's documented usage; only the import line differs from PCR ---
    from pcr_sdk import JobSubmitter

    submitter = JobSubmitter(
        "example",
        queue,
        "python:3.11",
        bucket,
        memory_in_mb=1024,
        aws_region="eu-central-1",
        polling_interval_seconds=0,
        request_throttling_milliseconds=0,
    )
    for i in range(10):
        submitter.submit_job({"x": i, "y": 3})
    submitter.wait_until_jobs_finished()
    outputs: list[Any] = [json.loads(o) for o in submitter.get_all_outputs() if o is not None]
    print("RESULT " + json.dumps(outputs))  # noqa: T201 - the seed's script prints its result
