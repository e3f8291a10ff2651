"""`resubmit_failed` on the local backend, with real worker processes: plain jobs, a dependency
chain and array children rerun in place after attach; a rerun interrupted after SubmitJob is
found again by a new submitter; a second rerun with nothing failed does nothing."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pcr_sdk import FailureKind, JobSubmitter, SilentProgress
from pcr_sdk.advanced import Seams
from pcr_sdk.local import LocalBackend
from tests.support.fakes import FakeClock
from tests.support.local import WORKERS

pytestmark = pytest.mark.subprocess

WORKER = WORKERS / "local_rerun_worker.py"


@pytest.fixture(scope="module")
def backend() -> Iterator[LocalBackend]:
    with LocalBackend([sys.executable, str(WORKER)], max_parallel=4) as local:
        yield local


def options(backend: LocalBackend) -> dict[str, Any]:
    return {
        "clients": backend.clients, "polling_interval_seconds": 0.05,
        "request_throttling_milliseconds": 0, "progress": SilentProgress(),
    }  # fmt: skip


def attach(backend: LocalBackend, batch_id: str, **extra: Any) -> JobSubmitter:
    return JobSubmitter.attach(
        batch_id, job_queue=backend.queue, job_bucket=backend.bucket, **options(backend), **extra
    )


def numbers(sub: JobSubmitter) -> list[int | None]:
    return [None if text is None else json.loads(text)["n"] for text in sub.get_all_outputs()]


def submit_calls(backend: LocalBackend) -> Counter[str]:
    calls: Counter[str] = Counter()

    def count(params: dict[str, Any], **_: Any) -> None:
        calls["array" if "arrayProperties" in params else "plain"] += 1

    backend.clients.batch.meta.events.register("before-parameter-build.batch.SubmitJob", count)
    return calls


def test_plain_jobs_a_chain_and_array_children_rerun_after_attach(
    backend: LocalBackend, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    broken.touch()
    flag = str(broken)
    with JobSubmitter("rerun", backend.queue, "python", backend.bucket, vcpus=1, gpus=0,
                      **options(backend)) as first:  # fmt: skip
        ok = first.submit_job({"n": 0})
        root = first.submit_job({"n": 1, "broken_while": flag}, [ok])
        first.submit_job({"n": 2}, [root])  # fails only because its dependency failed
        inputs = [{"n": n, "broken_while": flag if n % 2 else ""} for n in range(3, 8)]
        first.submit_jobs(inputs)
        first.wait_until_jobs_finished()
        assert numbers(first) == [0, None, None, None, 4, None, 6, None]
        batch_id = first.get_batch_id()
    broken.unlink()

    again = attach(backend, batch_id)  # a new submitter, as in a new process
    calls = submit_calls(backend)
    new = again.resubmit_failed()
    assert calls == {"plain": 2, "array": 1}  # jobs 1 and 2; one array for 3, 5 and 7
    assert [again.get_result(job_id).index for job_id in new] == [1, 2, 3, 5, 7]
    (dependent,) = backend.clients.batch.describe_jobs(jobs=[new[1]])["jobs"]
    assert [d["jobId"] for d in dependent.get("dependsOn", [])] == [new[0]]  # the root's rerun
    (root_rerun,) = backend.clients.batch.describe_jobs(jobs=[new[0]])["jobs"]
    assert root_rerun.get("dependsOn", []) == []  # job 0 succeeded: dropped
    again.wait_until_jobs_finished()
    assert numbers(again) == list(range(8))
    assert again._registry.deregistered
    results = again.get_results()
    assert [r.failure for r in results] == [None] * 8
    assert [j.attempt for j in again.jobs] == [1, 2, 2, 2, 1, 2, 1, 2]
    assert again.resubmit_failed() == []  # nothing failed: nothing happens
    assert calls == {"plain": 2, "array": 1}
    assert again.closed


def test_a_rerun_interrupted_after_submit_job_is_current_after_attach(
    backend: LocalBackend, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    broken.touch()
    with JobSubmitter("cut", backend.queue, "python", backend.bucket, vcpus=1, gpus=0,
                      **options(backend)) as first:  # fmt: skip
        first.submit_jobs([{"n": n, "broken_while": str(broken)} for n in range(3)])
        first.wait_until_jobs_finished()
        batch_id = first.get_batch_id()
    broken.unlink()
    crashing = attach(backend, batch_id)
    events = backend.clients.batch.meta.events

    def interrupt(**_: Any) -> None:
        raise KeyboardInterrupt  # after the array's SubmitJob, before the manifest has it

    events.register("after-call.batch.SubmitJob", interrupt, unique_id="rerun-cut")
    try:
        with pytest.raises(KeyboardInterrupt):
            crashing.resubmit_failed(kinds={FailureKind.NON_ZERO_EXIT})
    finally:
        events.unregister("after-call.batch.SubmitJob", unique_id="rerun-cut")

    # the rerun array, from its tags and index table; the cut rerun's session (never closed)
    # counts as closed once stale: 10 minutes on this watcher's clock, a virtual one
    clock = FakeClock()
    found = attach(backend, batch_id, seams=Seams(clock=clock, sleep=clock.sleep))
    assert [(j.index, j.attempt) for j in found.jobs] == [(0, 2), (1, 2), (2, 2)]
    assert len({j.array_id for j in found.jobs}) == 1
    found.wait_until_jobs_finished()
    assert numbers(found) == [0, 1, 2]
    assert found._registry.deregistered  # the revision the cut rerun registered, too
    assert found.resubmit_failed() == []
