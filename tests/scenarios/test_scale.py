"""Array fan-out, concurrent per-job submission, polling cost, on a MotoWorld."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pcr_sdk import JobStatus, JobSubmitter, SilentProgress, ThrottledError
from pcr_sdk._private.batch import submitting as submission
from pcr_sdk.advanced import Seams
from pcr_sdk.testing import Fault, MotoWorld
from pcr_sdk.worker import JobContext
from tests.support.calls import Calls
from tests.support.fakes import FakeClock


def square(data: Any) -> dict[str, int]:
    return {"sq": data["n"] ** 2}


def make(world: MotoWorld, clock: FakeClock, **kw: Any) -> JobSubmitter:
    return JobSubmitter(
        "scale", world.queue, "img", world.bucket, clients=world.clients,
        seams=Seams(clock=clock, sleep=clock.sleep), progress=SilentProgress(), **kw,
    )  # fmt: skip


@pytest.mark.moto_world(polls_to_finish=2)
@pytest.mark.integration
def test_array_fan_out_costs_o1_calls_and_children_work_like_jobs(moto_world: MotoWorld) -> None:
    clock = FakeClock()
    moto_world.script.worker(square)
    moto_world.script.fail(index=3, exit_code=7, reason="Essential container in task exited")
    calls = Calls(moto_world.clients)
    submitter = make(moto_world, clock)
    calls.take()
    ids = submitter.submit_jobs([{"n": i} for i in range(6)])
    # the indexes reserved ahead, the packed inputs, the manifest
    assert calls.take() == {"PutObject": 3, "SubmitJob": 1}
    parent = ids[0].split(":")[0]
    assert ids == [f"{parent}:{i}" for i in range(6)]
    (sent,) = moto_world.submitted()
    assert sent.params["arrayProperties"] == {"size": 6}
    assert sent.environment["PCR_ARRAY_BASE_INDEX"] == "0"

    submitter.wait_until_jobs_finished()
    waited = calls.take()
    # one DescribeJobs per cycle for the whole array, ListJobs only once failures appeared
    assert waited["ListJobs"] == 1
    # one DescribeJobs per cycle (the sleeps of 60 s; the rest is throttling) + one for the
    # failed child's details
    assert waited["DescribeJobs"] == clock.sleeps.count(60) + 1
    outputs = submitter.get_all_outputs()
    assert [None if o is None else json.loads(o) for o in outputs] == [
        {"sq": 0}, {"sq": 1}, {"sq": 4}, None, {"sq": 16}, {"sq": 25},
    ]  # fmt: skip
    failed = submitter.get_result(ids[3])
    assert (failed.status, failed.exit_code, failed.index) == (JobStatus.FAILED, 7, 3)
    assert submitter.get_result(ids[4]).status is JobStatus.SUCCEEDED
    assert submitter.get_job_directory(ids[5]).endswith("/000005")


@pytest.mark.integration
def test_arrays_are_cut_at_the_size_limit_and_indexes_run_on(
    moto_world: MotoWorld,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(submission, "MAX_ARRAY_SIZE", 3)
    moto_world.script.worker(square)
    submitter = make(moto_world, FakeClock())
    first = submitter.submit_job({"n": 100})
    ids = submitter.submit_jobs([{"n": i} for i in range(7)])
    sizes = [c.params.get("arrayProperties", {}).get("size") for c in moto_world.submitted()]
    assert sizes == [None, 3, 3, None]  # the plain job, two arrays, a last single job
    bases = [c.environment.get("PCR_ARRAY_BASE_INDEX") for c in moto_world.submitted()]
    assert bases == [None, "1", "4", None]
    assert [j.index for j in submitter.jobs] == list(range(8))
    assert submitter.jobs[0].job_id == first
    submitter.wait_until_jobs_finished()
    outputs = [json.loads(o or "null") for o in submitter.get_all_outputs()]
    assert outputs == [{"sq": 10000}] + [{"sq": i * i} for i in range(7)]
    assert len(ids) == 7


@pytest.mark.integration
def test_per_job_mode_is_ordered_and_concurrent_and_keeps_what_went_out(
    moto_world: MotoWorld,
) -> None:
    moto_world.script.worker(square)
    submitter = make(moto_world, FakeClock(), io_workers=4)
    ids = submitter.submit_jobs([{"n": i} for i in range(20)], array=False)
    assert [j.job_id for j in submitter.jobs] == ids
    assert [c.environment["S3_JOB_PREFIX"][-6:] for c in moto_world.submitted()] != []
    assert sorted(int(c.environment["S3_JOB_PREFIX"][-6:]) for c in moto_world.submitted()) == list(
        range(20)
    )
    submitter.wait_until_jobs_finished()
    assert [json.loads(o or "null") for o in submitter.get_all_outputs()] == [
        {"sq": i * i} for i in range(20)
    ]


@pytest.mark.integration
def test_a_failed_submit_in_per_job_mode_stops_the_rest(moto_world: MotoWorld) -> None:
    """The first job exhausts its retries: no queued job starts after it, the error is raised."""
    submitter = make(moto_world, FakeClock(), io_workers=1)
    moto_world.faults.add(service="batch", operation="SubmitJob", kind=Fault.THROTTLE, times=8)
    with pytest.raises(ThrottledError):
        submitter.submit_jobs([{"n": i} for i in range(4)], array=False)
    assert submitter.jobs == ()
    assert len(moto_world.submitted()) == 1  # one call (8 attempts), then nothing more
    assert not [v for v in moto_world.jobs() if v.job_name == submitter.get_batch_id()]


@pytest.mark.integration
def test_dependencies_on_a_whole_array(moto_world: MotoWorld) -> None:
    submitter = make(moto_world, FakeClock())
    children = submitter.submit_jobs([{"n": i} for i in range(3)])
    parent = children[0].split(":")[0]
    after = submitter.submit_job({"n": 9}, [parent])
    assert moto_world.submitted()[-1].depends_on == [parent]
    submitter.wait_until_jobs_finished()
    assert submitter.get_result(after).status is JobStatus.SUCCEEDED


@pytest.mark.integration
def test_worker_resolves_an_array_child_from_its_environment(moto_world: MotoWorld) -> None:
    submitter = make(moto_world, FakeClock())
    submitter.submit_jobs([{"n": i} for i in range(5)])
    env = {**moto_world.submitted()[0].environment, "AWS_BATCH_JOB_ARRAY_INDEX": "3"}
    context = JobContext.from_env(env, s3=moto_world.clients.s3)
    assert context.index == 3
    assert context.load_input() == {"n": 3}
    assert context.output_key == f"jobs/{submitter.get_batch_id()}/000003/output.json"
    submitter.close()
