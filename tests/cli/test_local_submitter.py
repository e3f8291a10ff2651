"""`LocalBackend.job_submitter`: a JobSubmitter with defaults that fit a laptop."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import pcr_sdk.local
from pcr_sdk import JobSubmitter, SilentProgress
from pcr_sdk.cli._runtime import LocalOptions, cpu_slots, start_local_backend
from pcr_sdk.local import LocalBackend
from tests.support.cli import SDK_WORKER

pytestmark = pytest.mark.subprocess

SECOND_LONG = "import time, sys; time.sleep(1); sys.exit(0)"


def test_defaults_fit_a_laptop_and_keywords_override_them() -> None:
    with LocalBackend([sys.executable, str(SDK_WORKER)], max_parallel=2) as backend:
        with backend.job_submitter("laptop", progress=SilentProgress()) as submitter:
            assert isinstance(submitter, JobSubmitter)
            assert (submitter.job_queue, submitter.job_bucket) == (backend.queue, backend.bucket)
            assert submitter._parts.settings.poll.interval_seconds == 0.2
            assert (submitter.spec.vcpus, submitter.spec.gpus) == (1, 0)
            assert submitter.spec.image == "pcr-local"
        with backend.job_submitter(
            "custom", "my-image", vcpus=2, polling_interval_seconds=1, progress=SilentProgress()
        ) as custom:
            assert custom._parts.settings.poll.interval_seconds == 1
            assert custom.spec.vcpus == 2
            assert custom.spec.image == "my-image"


def test_the_seed_defaults_are_untouched() -> None:
    with LocalBackend([sys.executable, "-c", SECOND_LONG]) as backend:
        seed = JobSubmitter("seed", backend.queue, "img", backend.bucket, clients=backend.clients)
        with seed:
            assert seed._parts.settings.poll.interval_seconds == 60
            assert (seed.spec.vcpus, seed.spec.gpus) == (4, 1)


def test_a_one_second_job_takes_about_a_second_not_a_minute() -> None:
    with (
        LocalBackend([sys.executable, "-c", SECOND_LONG]) as backend,
        backend.job_submitter("quick", progress=SilentProgress()) as submitter,
    ):
        submitter.submit_job({"n": 1})
        started = time.monotonic()
        submitter.wait_until_jobs_finished(timeout=30)
        waited = time.monotonic() - started
        (result,) = submitter.get_results()
    assert result.succeeded
    assert waited < 5  # polling every 0.2 s; the seed's 60 s interval took 60.8 s


def test_the_cli_sizes_the_local_compute_environment_for_parallel_jobs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`--parallel P` means P jobs at once: where the backend models vCPUs, GPUs and memory,
    the CLI makes room for P jobs of the requested size (and caps them at P)."""
    made: dict[str, Any] = {}

    class SizedBackend:
        def __init__(  # the engine's signature: a local compute environment with a size
            self,
            command: Any = None,
            *,
            max_parallel: int | None = None,
            containers: str | None = None,
            host_access: bool = False,
            extra_env: Any = None,
            vcpus: float | None = None,
            memory_mib: int | None = None,
            gpus: int = 0,
            data_dir: Any = None,
        ) -> None:
            made.update(max_parallel=max_parallel, vcpus=vcpus, memory_mib=memory_mib, gpus=gpus)
            made["path"] = extra_env["PATH"]

    monkeypatch.setattr(pcr_sdk.local, "LocalBackend", SizedBackend)
    options = LocalOptions.for_jobs(["w"], parallel=3, vcpus=2, memory_mib=512, gpus=1)
    start_local_backend(options)
    assert made["max_parallel"] == 3
    assert (made["vcpus"], made["memory_mib"], made["gpus"]) == (6, 1536, 3)
    assert made["path"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
    assert LocalOptions.for_jobs(["w"], parallel=None).max_parallel == cpu_slots()

    class UnsizedBackend:  # a backend that only caps the number of jobs
        def __init__(self, command: Any = None, **options: Any) -> None:
            made.clear()
            made.update(options)

    monkeypatch.setattr(pcr_sdk.local, "LocalBackend", UnsizedBackend)
    start_local_backend(options)
    assert made["max_parallel"] == 3
