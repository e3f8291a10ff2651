"""Signals and --timeout on AWS (a mocked account): `pcr run` owns its batch and cancels it,
`pcr submit` cancels a half-submitted batch, `pcr wait` only detaches.

The signals are real (`os.kill` of this process, from inside the command: its first sleep or
its second SubmitJob), delivered to the handlers the command installed for itself.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pcr_sdk import JobSubmitter, SilentProgress
from pcr_sdk.advanced import Seams
from pcr_sdk.cli._runtime import Runtime
from pcr_sdk.testing import MotoWorld
from tests.support.cli import assert_clean_exit, invoke, lines, write_jobs

pytestmark = pytest.mark.subprocess

ROWS = ['{"x": 1, "y": 2}', '{"x": 3, "y": 4}', '{"x": 5, "y": 6}']


def _where(world: MotoWorld) -> list[str]:
    return ["--queue", world.queue, "--bucket", world.bucket]


def _kill_self(number: signal.Signals = signal.SIGTERM) -> None:
    os.kill(os.getpid(), number)


def _statuses(world: MotoWorld) -> dict[str, str]:
    ids = [job.job_id for job in world.jobs()]
    details = world.clients.batch.describe_jobs(jobs=ids)["jobs"] if ids else []
    return {d["jobId"]: d["status"] for d in details}


def _definitions(world: MotoWorld) -> list[str]:
    found = world.clients.batch.describe_job_definitions()["jobDefinitions"]
    return [d["status"] for d in found]


def _signal_on_poll(seconds: float) -> None:
    """SIGTERM on the wait's first poll (10 s), not on the request spacing before it."""
    if seconds >= 10:
        _kill_self()


class FakeTime:
    """A clock that moves only when slept on."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.moto_world(polls_to_finish=10)  # its jobs stay unfinished
@pytest.mark.parametrize(("number", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_run_on_aws_cancels_its_batch_on_a_signal(
    moto_world: MotoWorld, tmp_path: Path, number: signal.Signals, code: int
) -> None:
    runtime = Runtime(
        aws_clients=lambda region: moto_world.clients, sleep=lambda s: _kill_self(number)
    )
    jobs = write_jobs(tmp_path / "jobs.jsonl", ROWS)
    before = signal.getsignal(number)
    result = invoke(["run", str(jobs), *_where(moto_world), "--image", "i"], obj=runtime)
    assert signal.getsignal(number) is before  # the command restored the previous handler
    assert_clean_exit(result, code)
    assert lines(result.stdout) == ["null", "null", "null"]
    assert f"interrupted by {number.name}" in result.stderr
    failed = [c.job_id for c in moto_world.submitted()]
    details = moto_world.clients.batch.describe_jobs(jobs=[i for i in failed if i])["jobs"]
    reason = f"pcr-sdk: {number.name} in the submitting process"
    assert {d["statusReason"] for d in details} == {reason}
    assert _definitions(moto_world) == ["INACTIVE"]


@pytest.mark.moto_world(polls_to_finish=10)  # its jobs stay unfinished
def test_wait_only_detaches_on_a_signal(moto_world: MotoWorld, slow_aws: Runtime) -> None:
    moto_world.script.worker(lambda data: data)
    submitter = JobSubmitter(
        "watched", moto_world.queue, "img", moto_world.bucket, clients=moto_world.clients,
        progress=SilentProgress(), seams=Seams(sleep=lambda s: None), gpus=0, vcpus=1,
    )  # fmt: skip
    submitter.submit_jobs([{"x": i, "y": 1} for i in range(3)], array=False)
    submitter.detach()  # as `pcr submit` does: the batch submits no more
    batch_id = submitter.get_batch_id()
    runtime = Runtime(aws_clients=lambda region: moto_world.clients, sleep=_signal_on_poll)
    result = invoke(["wait", batch_id, *_where(moto_world)], obj=runtime)
    assert_clean_exit(result, 143)
    assert result.stdout == ""
    assert "detached (SIGTERM): the jobs keep running; resume with: pcr wait " in result.stderr
    assert "FAILED" not in _statuses(moto_world).values()  # left running

    resumed = invoke(["wait", batch_id, *_where(moto_world)], obj=slow_aws)
    assert_clean_exit(resumed, 0)
    assert lines(resumed.stdout) == [f'{{"x":{i},"y":1}}' for i in range(3)]


@pytest.mark.moto_world(polls_to_finish=10)  # its jobs stay unfinished
def test_submit_interrupted_while_submitting_cancels_what_went_out(
    moto_world: MotoWorld, slow_aws: Runtime, tmp_path: Path
) -> None:
    calls = 0

    counting = threading.Lock()  # the submit threads share the counter

    def second_submit_gets_a_signal(**_: Any) -> None:
        nonlocal calls
        with counting:
            calls += 1
            fire = calls == 2
        if fire:
            _kill_self(signal.SIGINT)
        # a real SubmitJob waits on the network without the GIL; the in-process mock never does,
        # and threads that never let go of it can keep the main thread from running its signal
        # handler until every job went out (seen in a CI run: 40 of 40)
        time.sleep(0.002)

    moto_world.clients.batch.meta.events.register(
        "before-call.batch.SubmitJob", second_submit_gets_a_signal
    )
    jobs = write_jobs(tmp_path / "jobs.jsonl", [f'{{"x": {i}}}' for i in range(40)])
    result = invoke(["submit", str(jobs), *_where(moto_world), "--image", "i"], obj=slow_aws)
    assert_clean_exit(result, 130)
    assert result.stdout == ""  # no batch id: there is no batch to follow
    assert "interrupted: cancelled the" in result.stderr
    statuses = _statuses(moto_world)
    assert 2 <= len(statuses) < 40  # stopped early; every job that went out is recorded...
    assert set(statuses.values()) == {"FAILED"}  # ...and was terminated
    assert _definitions(moto_world) == ["INACTIVE"]


@pytest.mark.moto_world(polls_to_finish=10)  # its jobs stay unfinished
def test_run_on_aws_timeout_leaves_the_jobs_running(moto_world: MotoWorld, tmp_path: Path) -> None:
    fake = FakeTime()
    runtime = Runtime(
        aws_clients=lambda region: moto_world.clients, sleep=fake.sleep, clock=fake.clock
    )
    jobs = write_jobs(tmp_path / "jobs.jsonl", ROWS)
    result = invoke(
        ["run", str(jobs), *_where(moto_world), "--image", "i", "--timeout", "25"], obj=runtime
    )
    assert_clean_exit(result, 124)
    assert lines(result.stdout) == ["null", "null", "null"]
    assert "gave up waiting (--timeout): 3 job(s) keep running on AWS" in result.stderr
    assert "pcr wait " in result.stderr
    assert "FAILED" not in _statuses(moto_world).values()  # not cancelled


@pytest.mark.moto_world(polls_to_finish=10)  # its jobs stay unfinished
def test_wait_timeout_prints_what_is_known_and_how_to_resume(moto_world: MotoWorld) -> None:
    submitter = JobSubmitter(
        "slow", moto_world.queue, "img", moto_world.bucket, clients=moto_world.clients,
        progress=SilentProgress(), seams=Seams(sleep=lambda s: None), gpus=0, vcpus=1,
    )  # fmt: skip
    submitter.submit_jobs([{"x": i} for i in range(2)], array=False)
    fake = FakeTime()
    runtime = Runtime(
        aws_clients=lambda region: moto_world.clients, sleep=fake.sleep, clock=fake.clock
    )
    batch_id = submitter.get_batch_id()
    result = invoke(["wait", batch_id, *_where(moto_world), "--timeout", "25"], obj=runtime)
    assert_clean_exit(result, 124)
    assert lines(result.stdout) == ["null", "null"]
    assert "gave up waiting (--timeout): 2 job(s) keep running; resume with: pcr wait" in (
        result.stderr
    )
    assert "FAILED" not in _statuses(moto_world).values()


@pytest.mark.moto_world(polls_to_finish=10)  # its jobs stay unfinished
def test_submit_failing_halfway_cancels_what_went_out(
    moto_world: MotoWorld, slow_aws: Runtime, tmp_path: Path
) -> None:
    calls = 0

    def third_submit_is_denied(**_: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            error = {"Error": {"Code": "AccessDeniedException", "Message": "not you"}}
            raise ClientError(error, "SubmitJob")  # type: ignore[arg-type]

    moto_world.clients.batch.meta.events.register(
        "before-call.batch.SubmitJob", third_submit_is_denied
    )
    jobs = write_jobs(tmp_path / "jobs.jsonl", [f'{{"x": {i}}}' for i in range(40)])
    result = invoke(["submit", str(jobs), *_where(moto_world), "--image", "i"], obj=slow_aws)
    assert_clean_exit(result, 1)
    assert result.stdout == ""
    assert "not you" in result.stderr
    statuses = _statuses(moto_world)
    assert 2 <= len(statuses) < 40
    assert set(statuses.values()) == {"FAILED"}  # a half-submitted batch is not left running
    assert _definitions(moto_world) == ["INACTIVE"]
