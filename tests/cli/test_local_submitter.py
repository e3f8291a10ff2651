"""`LocalBackend.job_submitter`: a JobSubmitter with defaults that fit a laptop."""

from __future__ import annotations

import sys
import time

from pcr_sdk import JobSubmitter, SilentProgress
from pcr_sdk.local import LocalBackend
from tests.cli._helpers import SDK_WORKER

SECOND_LONG = "import time, sys; time.sleep(1); sys.exit(0)"


def test_defaults_fit_a_laptop_and_keywords_override_them() -> None:
    with LocalBackend([sys.executable, str(SDK_WORKER)], max_parallel=2) as backend:
        with backend.job_submitter("laptop", progress=SilentProgress()) as submitter:
            assert isinstance(submitter, JobSubmitter)
            assert (submitter.job_queue, submitter.job_bucket) == (backend.queue, backend.bucket)
            assert submitter.poller.polling_interval_seconds == 0.2
            assert (submitter.registry.spec.vcpus, submitter.registry.spec.gpus) == (1, 0)
            assert submitter.registry.spec.image == "pcr-local"
        with backend.job_submitter(
            "custom", "my-image", vcpus=2, polling_interval_seconds=1, progress=SilentProgress()
        ) as custom:
            assert custom.poller.polling_interval_seconds == 1
            assert custom.registry.spec.vcpus == 2
            assert custom.registry.spec.image == "my-image"


def test_the_seed_defaults_are_untouched() -> None:
    with LocalBackend([sys.executable, "-c", SECOND_LONG]) as backend:
        seed = JobSubmitter("seed", backend.queue, "img", backend.bucket, clients=backend.clients)
        with seed:
            assert seed.poller.polling_interval_seconds == 60
            assert (seed.registry.spec.vcpus, seed.registry.spec.gpus) == (4, 1)


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
