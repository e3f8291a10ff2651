"""The local compute environment: blocked jobs (reason, one warning, a blocked queue), packing."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from pcr_sdk import JobSubmitter, PrintProgress, SilentProgress, WaitTimeoutError
from pcr_sdk._private.wire import facts
from pcr_sdk.local import LocalBackend
from tests.support.local import Kit, scripted

pytestmark = pytest.mark.subprocess

ENGINE_LOGGER = "pcr_sdk.local"


@pytest.fixture
def no_gpu() -> Iterator[LocalBackend]:
    """A machine without a GPU: 8 vCPUs, 16 GiB."""
    with LocalBackend(scripted("ok"), vcpus=8, memory_mib=16384) as backend:
        yield backend


def _blocked_warnings(caplog: pytest.LogCaptureFixture, job_id: str) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING
        and record.name.startswith(ENGINE_LOGGER)
        and job_id in record.getMessage()
    ]


def test_the_seed_defaults_on_a_machine_without_a_gpu_are_told_at_once(
    no_gpu: LocalBackend, caplog: pytest.LogCaptureFixture
) -> None:
    """JobSubmitter's seed defaults ask 4 vCPUs and 1 GPU: the job goes RUNNABLE with AWS's
    blocked reason on the first describe that sees it placed, and one warning says why."""
    caplog.set_level(logging.WARNING, logger=ENGINE_LOGGER)
    submitter = JobSubmitter(
        "seed-defaults", no_gpu.queue, "python:3.11", no_gpu.bucket,
        clients=no_gpu.clients, progress=SilentProgress(), request_throttling_milliseconds=0,
        polling_interval_seconds=0.05,
    )  # fmt: skip
    job_id = submitter.submit_job({"x": 1})
    kit = Kit(no_gpu)

    job = kit.wait_one(job_id, statuses={"RUNNABLE"})
    for _ in range(3):
        job = kit.describe(job_id)

    assert job["status"] == "RUNNABLE"
    assert job["statusReason"] == facts.BLOCKED_BY_RESOURCES_REASON
    warnings = _blocked_warnings(caplog, job_id)
    assert len(warnings) == 1, warnings
    assert "1 GPUs (has 0)" in warnings[0]
    assert "8 vCPUs, 16384 MiB, 0 GPUs" in warnings[0]
    submitter.cancel("done", timeout=20)
    assert kit.describe(job_id)["status"] == "FAILED"


def test_a_blocked_job_blocks_the_queue_until_it_is_cancelled(
    no_gpu: LocalBackend, caplog: pytest.LogCaptureFixture
) -> None:
    """As on AWS, the job at the head that can never be placed holds back the jobs behind it."""
    caplog.set_level(logging.WARNING, logger=ENGINE_LOGGER)
    kit = Kit(no_gpu)
    small = kit.definition("small")
    huge = kit.definition("huge", containerProperties={"vcpus": 64})
    blocked = kit.submit(huge)
    kit.wait_one(blocked, statuses={"RUNNABLE"})
    behind = kit.submit(small)
    kit.wait_one(behind, statuses={"RUNNABLE"})

    assert "statusReason" not in kit.describe(behind)
    assert kit.describe(blocked)["statusReason"] == facts.BLOCKED_BY_RESOURCES_REASON
    assert "64 vCPUs (has 8)" in _blocked_warnings(caplog, blocked)[0]
    kit.batch.cancel_job(jobId=blocked, reason="too big")

    assert kit.wait_one(behind)["status"] == "SUCCEEDED"
    assert kit.describe(blocked)["statusReason"] == "too big"


def test_max_parallel_caps_attempts_besides_the_capacity() -> None:
    with LocalBackend(scripted("ok"), vcpus=8, max_parallel=1) as local:
        kit = Kit(local)
        definition = kit.definition("capped")
        sleeper = kit.submit(definition, scripted("sleep"))
        kit.wait_one(sleeper, statuses={"RUNNING"})
        queued = kit.submit(definition)
        kit.wait_one(queued, statuses={"RUNNABLE"})

        kit.batch.terminate_job(jobId=sleeper, reason="make room")

        assert kit.wait_one(queued)["status"] == "SUCCEEDED"


def test_gpus_and_memory_are_counted_like_vcpus() -> None:
    """Two 1-GPU jobs on a 1-GPU machine run one after the other; so do two half-memory jobs
    that together exceed it."""
    with LocalBackend(scripted("ok"), vcpus=8, memory_mib=1024, gpus=1) as local:
        kit = Kit(local)
        gpu = kit.definition(
            "one-gpu",
            containerProperties={"resourceRequirements": [{"type": "GPU", "value": "1"}]},
        )
        big = kit.definition("big-memory", containerProperties={"memory": 768})
        for definition in (gpu, big):
            first = kit.submit(definition, scripted("sleep"))
            kit.wait_one(first, statuses={"RUNNING"})
            second = kit.submit(definition)
            kit.wait_one(second, statuses={"RUNNABLE"})
            assert "statusReason" not in kit.describe(second)

            kit.batch.terminate_job(jobId=first, reason="next")

            assert kit.wait_one(second)["status"] == "SUCCEEDED"


def test_the_submitting_side_is_told_at_once_and_the_timeout_names_the_job(
    no_gpu: LocalBackend,
) -> None:
    """The facade's progress prints the blocked reason on the first poll that sees it; a
    wait's timeout names the job and AWS's reason instead of 'no capacity?'."""
    out = io.StringIO()
    submitter = JobSubmitter(
        "told", no_gpu.queue, "python:3.11", no_gpu.bucket, clients=no_gpu.clients,
        progress=PrintProgress(out), request_throttling_milliseconds=0,
        polling_interval_seconds=0.05,
    )  # fmt: skip
    job_id = submitter.submit_job({"x": 1})
    with pytest.raises(WaitTimeoutError) as raised:
        submitter.wait_until_jobs_finished(timeout=1.0)
    lines = out.getvalue().splitlines()
    told = [line for line in lines if "cannot start" in line]
    assert told == [f"Warning: job {job_id} cannot start: {facts.BLOCKED_BY_RESOURCES_REASON}"]
    assert lines.index(told[0]) <= 1  # the first poll's report, not the end of the wait
    assert raised.value.blocked == {job_id: facts.BLOCKED_BY_RESOURCES_REASON}
    assert f"cannot start, e.g. {job_id}" in str(raised.value)
    submitter.cancel("done", timeout=20)
