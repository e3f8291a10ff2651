"""`pcr report` after a rerun (`resubmit_failed`) of a plain job and an array child, on a
mocked account: the attempts the reruns replaced come with the view and the report.

A module of its own: `test_report_command.py` keeps one MotoWorld open for its whole module,
and worlds do not nest."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pcr_sdk import BatchStatus, JobStatus, JobSubmitter, SilentProgress
from pcr_sdk.advanced import Seams
from pcr_sdk.cli._runtime import Runtime
from pcr_sdk.testing import MotoWorld
from tests.support.cli import assert_clean_exit, invoke

pytestmark = pytest.mark.integration

NOW_MS = 4_102_444_800_000  # 2100-01-01: after every job of the test


def test_after_a_rerun_the_report_has_every_attempt() -> None:
    """A failed plain job and a failed array child, rerun: `BatchStatus` brings the attempts
    the reruns replaced, and `pcr report` counts them apart from the current jobs."""
    broken = {1, 5}

    def work(data: Any) -> dict[str, int]:
        if data["n"] in broken:
            raise ValueError(f"broken input {data['n']}")
        return {"n": data["n"]}

    with MotoWorld() as world:
        world.script.worker(work)
        submitter = JobSubmitter(
            "reran", world.queue, "img", world.bucket, clients=world.clients,
            progress=SilentProgress(), seams=Seams(sleep=lambda s: None), gpus=0, vcpus=1,
        )  # fmt: skip
        first = submitter.submit_jobs([{"n": n} for n in range(3)], array=False)
        children = submitter.submit_jobs([{"n": n} for n in range(3, 7)])
        submitter.wait_until_jobs_finished()
        broken.clear()
        submitter.resubmit_failed()
        submitter.wait_until_jobs_finished()
        batch_id = submitter.get_batch_id()

        view = BatchStatus.fetch(batch_id, job_queue=world.queue, clients=world.clients,
                                 seams=Seams(sleep=lambda s: None))  # fmt: skip
        assert [(j.job_id, j.index, j.attempt) for j in view.earlier_jobs] == [
            (first[1], 1, 1), (children[2], 5, 1),
        ]  # fmt: skip
        assert [r.status for r in view.earlier_results] == [JobStatus.FAILED] * 2
        assert [r.index for r in view.results] == list(range(7))
        assert all(r.succeeded for r in view.results)
        assert [j.attempt for j in view.jobs] == [1, 2, 1, 1, 1, 2, 1]

        runtime = Runtime(aws_clients=lambda region: world.clients, sleep=lambda s: None,
                          now_ms=lambda: NOW_MS)  # fmt: skip
        result = invoke(["report", batch_id, "--queue", world.queue, "--json"], obj=runtime)
        assert_clean_exit(result, 0)
        data = json.loads(result.stdout)
        assert [j["job_id"] for j in data["earlier"]] == [first[1], children[2]]
        assert [j["attempt"] for j in data["jobs"]] == [1, 2, 1, 1, 1, 2, 1]
        summary = data["summary"]
        assert (summary["jobs"], summary["reruns"], summary["jobs_rerun"]) == (7, 2, 2)
        assert summary["counts_by_status"] == {"SUCCEEDED": 7}
        assert summary["earlier_failures"] == {"non-zero-exit": 2}
        assert any("broken input 5" in line for line in data["earlier"][1]["log_tail"])
