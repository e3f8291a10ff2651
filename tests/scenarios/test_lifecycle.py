"""The whole JobSubmitter lifecycle on a MotoWorld (mocked S3 and Batch), with scripted job
states."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import pytest

from pcr_sdk import (
    BatchClosedError,
    InvalidBatchNameError,
    JobNotFoundError,
    JobStatus,
    JobSubmitter,
    OutputNotFoundError,
    PrintProgress,
    SilentProgress,
    UnknownDependencyError,
)
from pcr_sdk.advanced import Seams
from pcr_sdk.testing import MotoWorld
from tests.support.fakes import FakeClock

pytestmark = pytest.mark.integration  # every test here runs on a MotoWorld

FIXED = uuid.UUID("c6bc6ee9-1111-4222-8333-444455556666")
BATCH_ID = f"example_{FIXED}"


def sum_and_product(data: Any) -> dict[str, int]:
    return {"x+y": data["x"] + data["y"], "x*y": data["x"] * data["y"]}


def parsed(outputs: list[str | None]) -> list[Any]:
    return [None if text is None else json.loads(text) for text in outputs]


def make_submitter(world: MotoWorld, clock: FakeClock, **kw: Any) -> JobSubmitter:
    return JobSubmitter(
        "example",
        world.queue,
        "python:3.11",
        world.bucket,
        clients=world.clients,
        seams=Seams(clock=clock, sleep=clock.sleep, uuid_factory=lambda: FIXED),
        **kw,
    )


@pytest.mark.moto_world(polls_to_finish=3)
def test_lifecycle_with_dependency_polls_callbacks_failure_and_cleanup(
    moto_world: MotoWorld,
) -> None:
    clock = FakeClock()
    out = io.StringIO()
    moto_world.script.worker(sum_and_product)
    moto_world.script.fail(index=1, exit_code=3, reason="Essential container in task exited")
    calls: list[str] = []
    submitter = make_submitter(moto_world, clock, progress=PrintProgress(out))

    first = submitter.submit_job({"x": 2, "y": 3}, callback=lambda: calls.append("first"))
    second = submitter.submit_job({"x": 1, "y": 1}, [first], lambda: calls.append("second"))
    third = submitter.submit_job({"x": 4, "y": 5}, depends_on_job_ids=[first])
    submitter.wait_until_jobs_finished()

    assert calls == ["first", "second"]  # each exactly once; the dependent finished later
    assert parsed(submitter.get_all_outputs()) == [
        {"x+y": 5, "x*y": 6},
        None,
        {"x+y": 9, "x*y": 20},
    ]
    # several poll cycles, each after the seed's 60 s interval: `first` needs 4 describes,
    # its dependents wait in PENDING for it and then need 3 more
    assert clock.sleeps == [60] * 7
    assert "Jobs finished: 3/3" in out.getvalue()
    assert f"job {second} (index 1) failed" in out.getvalue()
    result = submitter.get_result(second)
    assert (result.status, result.exit_code, result.index) == (JobStatus.FAILED, 3, 1)
    assert result.status_reason == "Essential container in task exited"
    assert submitter.get_result(third).status is JobStatus.SUCCEEDED
    # the job definition is INACTIVE at the end, and the dependency went out as sent
    definitions = moto_world.clients.batch.describe_job_definitions(jobDefinitionName=BATCH_ID)
    assert [d["status"] for d in definitions["jobDefinitions"]] == ["INACTIVE"]
    sent = moto_world.submitted()
    assert [c.depends_on for c in sent] == [[], [first], [first]]
    with pytest.raises(BatchClosedError):
        submitter.submit_job({"x": 0, "y": 0})


def test_exact_s3_layout_and_environment_contract(moto_world: MotoWorld) -> None:
    clock = FakeClock()
    submitter = make_submitter(moto_world, clock, progress=SilentProgress())
    job_id = submitter.submit_job({"x": 2, "y": 3})
    prefix = f"jobs/{BATCH_ID}/000000"
    assert submitter.get_batch_id() == BATCH_ID
    assert submitter.get_job_directory(job_id) == prefix
    config = moto_world.clients.s3.get_object(Bucket=moto_world.bucket, Key=f"{prefix}/config.json")
    assert json.loads(config["Body"].read()) == {"x": 2, "y": 3}
    (call,) = moto_world.submitted()
    assert call.environment == {
        "S3_JOB_BUCKET": moto_world.bucket,
        "S3_JOB_CONFIG_KEY": f"{prefix}/config.json",
        "S3_JOB_PREFIX": prefix,
        "S3_OUTPUT_OJBECT_KEY": f"{prefix}/output.json",
        "BATCH_ID": BATCH_ID,
    }
    assert call.job_name == BATCH_ID
    assert call.timeout_seconds == 20 * 3600
    assert call.job_definition.endswith(f"job-definition/{BATCH_ID}:1")
    submission = call.tags.pop("pcr:submission")  # one-time token, for lost responses
    assert len(submission) == 32
    assert call.tags == {"pcr:batch-id": BATCH_ID, "pcr:index": "0"}
    submitter.close()


def test_seed_job_definition_defaults_and_new_keywords(moto_world: MotoWorld) -> None:
    clock = FakeClock()
    seed = make_submitter(moto_world, clock, memory_in_mb=2048, timeout_in_hours=2)
    cpu = JobSubmitter(
        "cpu-only", moto_world.queue, "python:3.11", moto_world.bucket,
        clients=moto_world.clients, vcpus=2, gpus=0,
    )  # fmt: skip
    batch = moto_world.clients.batch

    def resources(name: str) -> tuple[dict[str, str], int]:
        (d,) = batch.describe_job_definitions(jobDefinitionName=name)["jobDefinitions"]
        req: dict[str, str] = {
            r["type"]: r["value"] for r in d["containerProperties"]["resourceRequirements"]
        }
        return req, d["timeout"]["attemptDurationSeconds"]

    assert resources(seed.get_batch_id()) == ({"VCPU": "4", "MEMORY": "2048", "GPU": "1"}, 7200)
    assert resources(cpu.get_batch_id())[0] == {"VCPU": "2", "MEMORY": "1024"}
    seed.close()
    cpu.close()


def test_context_manager_deregisters_on_error_too(moto_world: MotoWorld) -> None:
    submitter = make_submitter(moto_world, FakeClock())

    def user_code() -> None:
        with submitter:
            submitter.submit_job({"x": 1, "y": 1})
            raise RuntimeError("user code")

    with pytest.raises(RuntimeError, match="user code"):
        user_code()
    (definition,) = moto_world.clients.batch.describe_job_definitions(jobDefinitionName=BATCH_ID)[
        "jobDefinitions"
    ]
    assert definition["status"] == "INACTIVE"


@pytest.mark.moto_world(polls_to_finish=5)
def test_keyboard_interrupt_during_wait_leaves_no_active_definition(moto_world: MotoWorld) -> None:
    clock = FakeClock()

    def interrupting_sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if len(clock.sleeps) == 2:
            raise KeyboardInterrupt

    submitter = JobSubmitter(
        "example",
        moto_world.queue,
        "img",
        moto_world.bucket,
        clients=moto_world.clients,
        seams=Seams(clock=clock, sleep=interrupting_sleep, uuid_factory=lambda: FIXED),
        progress=SilentProgress(),
    )
    submitter.submit_job({})
    with pytest.raises(KeyboardInterrupt):
        submitter.wait_until_jobs_finished()
    defs = moto_world.clients.batch.describe_job_definitions(jobDefinitionName=BATCH_ID)
    assert [d["status"] for d in defs["jobDefinitions"]] == ["INACTIVE"]


def test_errors_before_any_network_call(moto_world: MotoWorld) -> None:
    with pytest.raises(InvalidBatchNameError):
        JobSubmitter("-bad", moto_world.queue, "img", moto_world.bucket, clients=moto_world.clients)
    with pytest.raises(ValueError, match="must start"):
        JobSubmitter("-bad", moto_world.queue, "img", moto_world.bucket, clients=moto_world.clients)
    assert moto_world.clients.batch.describe_job_definitions()["jobDefinitions"] == []
    submitter = make_submitter(moto_world, FakeClock())
    with pytest.raises(UnknownDependencyError):
        submitter.submit_job({}, ["not-a-job-of-this-batch"])
    with pytest.raises(JobNotFoundError):
        submitter.get_output("nope")
    assert moto_world.submitted() == []
    submitter.close()


def test_get_output_of_a_job_without_output_is_a_typed_error(moto_world: MotoWorld) -> None:
    submitter = make_submitter(moto_world, FakeClock(), progress=SilentProgress())
    job_id = submitter.submit_job({"x": 1, "y": 2})
    submitter.wait_until_jobs_finished()
    with pytest.raises(OutputNotFoundError) as info:
        submitter.get_output(job_id)
    assert info.value.job_id == job_id
    assert info.value.key == f"jobs/{BATCH_ID}/000000/output.json"
    assert submitter.get_all_outputs() == [None]


@pytest.mark.moto_world(polls_to_finish=2)
def test_attach_rebuilds_a_batch_from_another_process(moto_world: MotoWorld) -> None:
    moto_world.script.worker(sum_and_product)
    clock = FakeClock()
    first = make_submitter(moto_world, clock, progress=SilentProgress())
    a = first.submit_job({"x": 2, "y": 3})
    b = first.submit_job({"x": 3, "y": 4}, [a])
    # the first process dies here; a new one attaches and finishes the work
    again = JobSubmitter.attach(
        BATCH_ID, job_queue=moto_world.queue, job_bucket=moto_world.bucket,
        clients=moto_world.clients, seams=Seams(clock=clock, sleep=clock.sleep),
        progress=SilentProgress(),
    )  # fmt: skip
    assert [(j.job_id, j.index) for j in again.jobs] == [(a, 0), (b, 1)]
    assert again.jobs[1].depends_on == (a,)
    again.wait_until_jobs_finished()
    assert parsed(again.get_all_outputs()) == [{"x+y": 5, "x*y": 6}, {"x+y": 7, "x*y": 12}]
    assert again.closed
