"""The Batch engine with a scripted launcher: every status of the lifecycle, deterministically."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from pcr_sdk.local._capacity import Resources
from pcr_sdk.local._engine import BatchEngine
from pcr_sdk.local._logs import LogStore
from pcr_sdk.local._process import ContainerRun, LineSink, ProcessExit, ProcessHandle
from pcr_sdk.local._wire import ServiceError


class _Handle:
    def __init__(self, sink: LineSink) -> None:
        self.sink = sink
        self.exit_code = 0
        self.signals: list[str] = []
        self.done = threading.Event()

    def finish(self, exit_code: int) -> None:
        self.exit_code = exit_code
        self.done.set()

    def wait(self) -> ProcessExit:
        self.done.wait()
        return ProcessExit(self.exit_code)

    def terminate(self) -> None:
        self.signals.append("SIGTERM")  # ignored: only SIGKILL ends this "process"

    def kill(self) -> None:
        self.signals.append("SIGKILL")
        self.finish(137)


class _Launcher:
    """Starts nothing: each start blocks until the test opens the gate for that job."""

    def __init__(self) -> None:
        self.gates: dict[str, threading.Event] = {}
        self.handles: dict[str, _Handle] = {}
        self.started = threading.Condition()
        self.runs: list[ContainerRun] = []

    def gate(self, job_id: str) -> threading.Event:
        with self.started:
            return self.gates.setdefault(job_id, threading.Event())

    def start(self, run: ContainerRun, sink: LineSink) -> ProcessHandle:
        self.gate(run.job_id).wait()
        handle = _Handle(sink)
        sink(f"started {run.job_id}")
        with self.started:
            self.runs.append(run)
            self.handles[run.job_id] = handle
            self.started.notify_all()
        return handle

    def handle(self, job_id: str) -> _Handle:
        with self.started:
            self.started.wait_for(lambda: job_id in self.handles, timeout=5)
            return self.handles[job_id]


@pytest.fixture
def launcher() -> _Launcher:
    return _Launcher()


def _engine(launcher: _Launcher, **options: Any) -> BatchEngine:
    ids = (uuid.UUID(int=n) for n in range(1, 10_000))
    settings: dict[str, Any] = {
        "capacity": Resources(vcpus=1, memory_mib=1024, gpus=0),
        "grace_seconds": 0,
        **options,
    }
    return BatchEngine(
        launcher,
        LogStore(clock_ms=lambda: 42),
        queue="q",
        region="us-east-1",
        clock=lambda: 1_700_000_000.0,
        new_id=lambda: next(ids),
        **settings,
    )


@pytest.fixture
def engine(launcher: _Launcher) -> Iterator[BatchEngine]:
    engine = _engine(launcher)
    yield engine
    for gate in launcher.gates.values():
        gate.set()
    engine.close()


def _definition(engine: BatchEngine) -> str:
    answer = engine.register_job_definition(
        {"jobDefinitionName": "d", "type": "container", "containerProperties": {"image": "img"}}
    )
    return str(answer["jobDefinitionArn"])


def _submit(engine: BatchEngine, definition: str, **extra: Any) -> str:
    request = {"jobName": "j", "jobQueue": "q", "jobDefinition": definition, **extra}
    return str(engine.submit_job(request)["jobId"])


def _status(engine: BatchEngine, job_id: str) -> dict[str, Any]:
    jobs: list[dict[str, Any]] = engine.describe_jobs({"jobs": [job_id]})["jobs"]
    return jobs[0]


def _until(engine: BatchEngine, job_id: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    pause = threading.Event()
    while (job := _status(engine, job_id))["status"] != status:
        assert time.monotonic() < deadline, f"{job_id} stuck in {job['status']}, not {status}"
        pause.wait(0.005)
    return job


def test_every_status_in_order(engine: BatchEngine, launcher: _Launcher) -> None:
    definition = _definition(engine)
    first = _submit(engine, definition)
    second = _submit(engine, definition, dependsOn=[{"jobId": first}])
    assert _status(engine, first)["status"] == "SUBMITTED"  # the scheduler is not running yet

    engine.start()
    _until(engine, first, "STARTING")  # holds the only slot; the launch is gated
    assert _status(engine, second)["status"] == "PENDING"
    launcher.gate(first).set()
    running = _until(engine, first, "RUNNING")
    assert running["startedAt"] == 1_700_000_000_000
    assert running["container"]["logStreamName"].startswith("d/default/")
    launcher.handle(first).finish(0)
    done = _until(engine, first, "SUCCEEDED")
    assert done["statusReason"] == "Essential container in task exited"
    _until(engine, second, "STARTING")
    launcher.gate(second).set()
    launcher.handle(second).finish(0)
    _until(engine, second, "SUCCEEDED")

    assert [run.job_id for run in launcher.runs] == [first, second]
    assert launcher.runs[0].environment["AWS_BATCH_JOB_ID"] == first
    assert launcher.runs[0].environment["AWS_BATCH_JQ_NAME"] == "q"
    assert launcher.runs[0].image == "img"


def test_a_queued_job_stays_runnable_while_the_slot_is_taken(
    engine: BatchEngine, launcher: _Launcher
) -> None:
    definition = _definition(engine)
    first = _submit(engine, definition)
    second = _submit(engine, definition)
    engine.start()
    launcher.gate(first).set()
    _until(engine, first, "RUNNING")
    assert _status(engine, second)["status"] == "RUNNABLE"

    engine.cancel_job({"jobId": second, "reason": "changed my mind"})
    cancelled = _until(engine, second, "FAILED")
    assert cancelled["statusReason"] == "changed my mind"
    engine.terminate_job({"jobId": first, "reason": "stop"})
    terminated = _until(engine, first, "FAILED")
    assert terminated["statusReason"] == "stop"
    assert terminated["container"]["exitCode"] == 137
    assert launcher.gates.keys() == {first}  # the cancelled job never started


def test_retry_goes_back_to_runnable(engine: BatchEngine, launcher: _Launcher) -> None:
    job_id = _submit(engine, _definition(engine), retryStrategy={"attempts": 2})
    engine.start()
    launcher.gate(job_id).set()
    first = launcher.handle(job_id)
    with launcher.started:
        del launcher.handles[job_id]
    first.finish(5)
    second = launcher.handle(job_id)
    retried = _status(engine, job_id)
    assert retried["status"] in ("STARTING", "RUNNING")
    assert [a["container"]["exitCode"] for a in retried["attempts"]] == [5]
    second.finish(0)
    done = _until(engine, job_id, "SUCCEEDED")
    assert [a["container"]["exitCode"] for a in done["attempts"]] == [5, 0]
    assert [run.attempt for run in launcher.runs] == [1, 2]


def test_terminate_sends_sigterm_and_sigkill_only_after_the_grace_period(
    launcher: _Launcher,
) -> None:
    """SIGKILL follows SIGTERM once the grace period (30 s times timeout_scale) is over."""
    engine = _engine(launcher, timeout_scale=1 / 300)  # grace: 0.1 s
    try:
        job_id = _submit(engine, _definition(engine))
        engine.start()
        launcher.gate(job_id).set()
        handle = launcher.handle(job_id)
        _until(engine, job_id, "RUNNING")

        engine.terminate_job({"jobId": job_id, "reason": "stop"})
        done = _until(engine, job_id, "FAILED")

        assert handle.signals == ["SIGTERM", "SIGKILL"]
        assert done["statusReason"] == "stop"
        assert done["container"]["exitCode"] == 137
        assert done["isTerminated"] is True
        assert done["isCancelled"] is False
    finally:
        engine.close()


def test_a_timeout_is_never_retried(launcher: _Launcher) -> None:
    engine = _engine(launcher, timeout_scale=1 / 600, grace_seconds=0)  # timeout: 0.1 s
    try:
        job_id = _submit(
            engine,
            _definition(engine),
            retryStrategy={"attempts": 3},
            timeout={"attemptDurationSeconds": 60},
        )
        engine.start()
        launcher.gate(job_id).set()
        handle = launcher.handle(job_id)

        done = _until(engine, job_id, "FAILED")

        assert handle.signals == ["SIGTERM", "SIGKILL"]
        assert done["statusReason"] == "Job attempt duration exceeded timeout"
        assert [a["statusReason"] for a in done["attempts"]] == [done["statusReason"]]
        assert "exitCode" not in done["attempts"][0]["container"]
        assert len(launcher.runs) == 1
    finally:
        engine.close()


def test_reclaim_host_needs_a_started_job(engine: BatchEngine, launcher: _Launcher) -> None:
    job_id = _submit(engine, _definition(engine))
    with pytest.raises(KeyError):
        engine.reclaim_host("no-such-job")
    with pytest.raises(ValueError, match="SUBMITTED"):
        engine.reclaim_host(job_id)
    engine.start()
    launcher.gate(job_id).set()
    _until(engine, job_id, "RUNNING")

    reason = engine.reclaim_host(job_id)
    done = _until(engine, job_id, "FAILED")

    assert launcher.handle(job_id).signals == ["SIGTERM", "SIGKILL"]
    assert done["statusReason"] == reason
    assert reason.startswith("Host EC2 (instance i-")
    assert "exitCode" not in done["container"]


def test_cancelling_a_pending_array_waits_for_its_running_children(
    engine: BatchEngine, launcher: _Launcher
) -> None:
    """CancelJob on an array parent: queued children fail, a running one goes on, then the
    parent fails with the reason."""
    parent = _submit(engine, _definition(engine), arrayProperties={"size": 2})
    engine.start()
    first, second = f"{parent}:0", f"{parent}:1"
    launcher.gate(first).set()
    _until(engine, first, "RUNNING")
    assert _status(engine, second)["status"] == "RUNNABLE"  # one vCPU: one child at a time

    engine.cancel_job({"jobId": parent, "reason": "no more"})
    assert _until(engine, second, "FAILED")["statusReason"] == "no more"
    assert _status(engine, parent)["status"] == "PENDING"
    launcher.handle(first).finish(0)

    done = _until(engine, parent, "FAILED")
    assert done["statusReason"] == "no more"
    assert done["isCancelled"] is True
    assert done["arrayProperties"]["statusSummary"]["SUCCEEDED"] == 1
    assert done["arrayProperties"]["statusSummary"]["FAILED"] == 1


def test_list_jobs_refuses_what_aws_refuses(engine: BatchEngine) -> None:
    for params in (
        {"jobQueue": "q", "filters": [{"name": "job_name", "values": ["x"]}]},  # case sensitive
        {"jobQueue": "q", "filters": [{"name": "JOB_NAME", "values": ["a"]}] * 2},
        {"jobQueue": "q", "maxResults": 0},
        {"jobQueue": "q", "nextToken": "not-a-token"},
        {"jobQueue": "q", "jobStatus": "EXPIRED"},  # pcr-sdk's own status, not AWS's
    ):
        with pytest.raises(ServiceError) as err:
            engine.list_jobs(params)
        assert err.value.code == "ClientException", params
    many = engine.list_jobs({"jobQueue": "q", "jobStatus": "RUNNING", "maxResults": 5000})
    assert many == {"jobSummaryList": []}  # above 1000: a full page, not an error
