"""JobSubmitter unchanged on the local backend: plain jobs, arrays, failures, cancel, attach."""

from __future__ import annotations

import json
import sys

import pytest

from pcr_sdk import FailureKind, JobStatus, JobSubmitter, SilentProgress
from pcr_sdk.local import LocalBackend
from tests.support.local import WORKERS

pytestmark = pytest.mark.subprocess


def submitter(backend: LocalBackend, name: str = "facade") -> JobSubmitter:
    return JobSubmitter(
        name, backend.queue, "python", backend.bucket, clients=backend.clients,
        polling_interval_seconds=0.05, request_throttling_milliseconds=0,
        vcpus=1, gpus=0, progress=SilentProgress(),
    )  # fmt: skip


def test_arrays_and_plain_jobs_with_the_sdk_worker() -> None:
    command = [sys.executable, str(WORKERS / "local_sdk_worker.py")]
    with LocalBackend(command, max_parallel=2) as backend:
        s = submitter(backend)
        first = s.submit_job({"x": 1, "y": 1})
        children = s.submit_jobs([{"x": i, "y": 2} for i in range(4)])
        after = s.submit_job({"x": 5, "y": 5}, [children[0].split(":")[0]])
        s.wait_until_jobs_finished()
        outputs = [json.loads(o or "null") for o in s.get_all_outputs()]
        assert outputs == [
            {"x+y": 2, "x*y": 1},
            *({"x+y": i + 2, "x*y": 2 * i} for i in range(4)),
            {"x+y": 10, "x*y": 25},
        ]
        assert s.get_result(first).status is JobStatus.SUCCEEDED
        assert s.get_result(after).status is JobStatus.SUCCEEDED
        assert s.closed


def test_a_failing_array_child_has_details_and_a_log() -> None:
    command = [sys.executable, str(WORKERS / "local_sdk_worker.py")]
    with LocalBackend(command, max_parallel=2) as backend:
        s = submitter(backend)
        children = s.submit_jobs([{"x": 1, "y": 1}, {"x": 1}, {"x": 2, "y": 2}])
        s.wait_until_jobs_finished()
        assert s.get_all_outputs()[1] is None
        failed = s.get_result(children[1])
        assert (failed.status, failed.exit_code) == (JobStatus.FAILED, 1)
        assert failed.failure is FailureKind.NON_ZERO_EXIT
        assert any("KeyError" in line for line in s.logs(children[1], tail=20))


def test_plain_boto3_worker_and_attach_from_a_new_submitter() -> None:
    command = [sys.executable, str(WORKERS / "local_plain_worker.py")]
    with LocalBackend(command, max_parallel=2) as backend:
        first = submitter(backend)
        ids = [first.submit_job({"x": i, "y": 3}) for i in range(3)]
        first.detach()  # the first process stops submitting (as `pcr submit` does), jobs run on
        again = JobSubmitter.attach(
            first.get_batch_id(), job_queue=backend.queue, job_bucket=backend.bucket,
            clients=backend.clients, polling_interval_seconds=0.05,
            request_throttling_milliseconds=0, progress=SilentProgress(),
        )  # fmt: skip
        assert [j.job_id for j in again.jobs] == ids
        again.wait_until_jobs_finished()
        assert [json.loads(o or "null") for o in again.get_all_outputs()] == [
            {"x+y": i + 3, "x*y": 3 * i} for i in range(3)
        ]
