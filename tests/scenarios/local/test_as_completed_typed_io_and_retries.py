"""Results as they finish, typed I/O and retry policies on the local backend.

Real subprocess workers (`tests/support/workers/local_typed_worker.py`: pydantic models in and
out). The end-to-end retry tests use the engine's `evaluateOnExit` and its Spot-reclaim
simulation (`LocalBackend.reclaim_host`).
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from pcr_sdk import JobStatus, JobSubmitter, RetryPolicy, RetryRule, SilentProgress
from pcr_sdk.local import LocalBackend
from tests.support.local import WORKERS

pytestmark = pytest.mark.subprocess

WORKER = WORKERS / "local_typed_worker.py"


class Result(BaseModel):
    """The worker's output model (the worker defines the same one)."""

    total: int
    attempt: int


@pytest.fixture(scope="module")
def backend() -> Iterator[LocalBackend]:
    with LocalBackend([sys.executable, str(WORKER)], max_parallel=4) as local:
        yield local


def submitter(backend: LocalBackend, name: str, **kw: Any) -> JobSubmitter:
    return JobSubmitter(
        name, backend.queue, "python", backend.bucket, clients=backend.clients,
        polling_interval_seconds=0.05, request_throttling_milliseconds=0, vcpus=1, gpus=0,
        progress=SilentProgress(), **kw,
    )  # fmt: skip


def counting(fired: Counter[int], index: int) -> Callable[[], None]:
    return lambda: fired.update([index])


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    """Poll `condition` (real subprocesses run meanwhile) until it holds."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        pause.wait(0.05)


def test_results_as_they_finish_then_a_wait_for_the_rest(backend: LocalBackend) -> None:
    s = submitter(backend, "stream")
    fired: Counter[int] = Counter()
    fast = [s.submit_job({"x": i}, callback=counting(fired, i)) for i in range(2)]
    slow = s.submit_jobs([{"x": 10 + i, "pause": 2.5} for i in range(3)])
    first = None
    for result in s.as_completed(timeout=60):
        first = result
        break
    assert first is not None
    assert first.job_id in fast
    assert first.output_as(Result) == Result(total=first.index, attempt=1)
    assert fired == Counter([first.index])
    unfinished = [r for r in s.get_results(slow) if not r.finished]
    assert unfinished, "the slow children still run after the loop stopped"
    assert not s.closed

    s.wait_until_jobs_finished(timeout=60)
    assert fired == Counter([0, 1])
    assert s.get_outputs(Result) == [Result(total=t, attempt=1) for t in (0, 1, 10, 11, 12)]
    streamed = {r.index: r.output_as(Result) for r in s.as_completed()}
    assert streamed == {i: Result(total=t, attempt=1) for i, t in enumerate((0, 1, 10, 11, 12))}


def test_an_invalid_typed_input_fails_only_its_own_job(backend: LocalBackend) -> None:
    s = submitter(backend, "typed")
    ids = s.submit_jobs([{"x": 1, "y": 2}, {"x": "nope"}, {"x": 3, "mode": "elsewhere"}])
    plain = s.submit_job({"x": 4, "y": 4})
    s.wait_until_jobs_finished(timeout=60)
    results = s.get_results()
    assert [r.status for r in results] == [
        JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.FAILED, JobStatus.SUCCEEDED,
    ]  # fmt: skip
    assert [r.exit_code for r in results[1:3]] == [2, 2]
    log = "\n".join(s.logs(ids[1], tail=20))
    assert "invalid input, the handler was not called (exit code 2)" in log
    assert "not a valid Task: 1 error(s): x: Input should be a valid integer" in log
    assert "Traceback" not in log
    assert "mode: Input should be 'ok', 'spot' or 'bug'" in "\n".join(s.logs(ids[2], tail=20))
    assert s.get_outputs(Result) == [
        Result(total=3, attempt=1),
        None,
        None,
        Result(total=8, attempt=1),
    ]
    assert s.get_result(plain).succeeded


def test_the_retry_policy_is_registered_with_the_definition(backend: LocalBackend) -> None:
    policy = RetryPolicy.spot_reclaims(attempts=4)
    with submitter(backend, "policy", retry=policy) as s:
        found = backend.clients.batch.describe_job_definitions(jobDefinitionName=s.get_batch_id())[
            "jobDefinitions"
        ]
        (strategy,) = [d["retryStrategy"] for d in found]
        assert strategy["attempts"] == 4
        # AWS answers with the actions in lower case
        assert [r["action"] for r in strategy["evaluateOnExit"]] == ["retry", "exit"]
        assert RetryPolicy.from_aws(strategy) == policy


def test_spot_reclaims_are_retried_and_bugs_are_not(backend: LocalBackend) -> None:
    reclaim = backend.reclaim_host
    s = submitter(backend, "spot", retry=RetryPolicy.spot_reclaims(attempts=3))
    spot, bug, ok = s.submit_jobs(
        [{"x": 1, "mode": "spot"}, {"x": 2, "mode": "bug"}, {"x": 3}], array=False
    )
    batch = backend.clients.batch

    def running() -> bool:
        (detail,) = batch.describe_jobs(jobs=[spot])["jobs"]
        return detail["status"] == "RUNNING" and "logStreamName" in detail.get("container", {})

    wait_until(running, "the spot job to run")
    reason = reclaim(spot)
    assert reason.startswith("Host EC2 (instance i-")
    s.wait_until_jobs_finished(timeout=60)
    results = {r.job_id: r for r in s.get_results()}
    assert (results[spot].status, results[spot].attempts) == (JobStatus.SUCCEEDED, 2)
    assert (results[bug].status, results[bug].attempts, results[bug].exit_code) == (
        JobStatus.FAILED, 1, 3,
    )  # fmt: skip
    assert (results[ok].status, results[ok].attempts) == (JobStatus.SUCCEEDED, 1)
    outputs = s.get_outputs(Result)
    assert outputs[0] == Result(total=1, attempt=2)


def test_an_exit_code_rule_retries_what_it_names(backend: LocalBackend) -> None:
    policy = RetryPolicy(
        attempts=2,
        rules=[
            RetryRule(action="RETRY", on_exit_code="3"),
            RetryRule(action="EXIT", on_reason="*"),
        ],
    )
    s = submitter(backend, "exitcode", retry=policy)
    bug = s.submit_job({"x": 2, "mode": "bug"})
    s.wait_until_jobs_finished(timeout=60)
    result = s.get_result(bug)
    assert (result.status, result.attempts, result.exit_code) == (JobStatus.FAILED, 2, 3)
