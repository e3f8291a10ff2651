"""Helpers for the local backend's tests: worker commands, job definitions, submitting, waiting;
the engine with a gated launcher (no process: each job starts when its test opens its gate)."""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pcr_sdk._private.wire.layout import BatchLayout
from pcr_sdk.local import LocalBackend
from pcr_sdk.local._capacity import Resources
from pcr_sdk.local._engine import BatchEngine
from pcr_sdk.local._logs import LogStore
from pcr_sdk.local._model import Job
from pcr_sdk.local._process import ContainerRun, LineSink, ProcessExit, ProcessHandle
from pcr_sdk.local._stepping import SIGTERM_EXIT, Exit, Program, SteppingScheduler, VirtualClock

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_batch.literals import ArrayJobDependencyType
    from mypy_boto3_batch.type_defs import (
        ContainerOverridesTypeDef,
        ContainerPropertiesTypeDef,
        JobDependencyTypeDef,
        JobDetailTypeDef,
    )

WORKERS: Final = Path(__file__).parent / "workers"
PLAIN_WORKER: Final = WORKERS / "local_plain_worker.py"
SDK_WORKER: Final = WORKERS / "local_sdk_worker.py"
SCRIPTED_WORKER: Final = WORKERS / "local_scripted_worker.py"
FINISHED: Final = frozenset({"SUCCEEDED", "FAILED"})
IMAGE: Final = "python:3.11-slim"


def container_run(**changes: Any) -> ContainerRun:
    """An attempt of job `abc:2` (image `repo/worker:1`) as the launchers get it."""
    fields: dict[str, Any] = {
        "job_id": "abc:2",
        "attempt": 1,
        "image": "repo/worker:1",
        "command": None,
        "definition_command": ("python", "/app/worker.py"),
        "environment": {"S3_JOB_BUCKET": "b", "AWS_BATCH_JOB_ID": "abc:2"},
    }
    fields.update(changes)
    return ContainerRun(**fields)


def scripted(*args: str) -> list[str]:
    """The argv of the scripted worker in one of its modes (see its docstring)."""
    return [sys.executable, str(SCRIPTED_WORKER), *args]


def python(script: Path) -> list[str]:
    return [sys.executable, str(script)]


class Kit:
    """Short-hands over one backend's real boto3 Batch client."""

    def __init__(self, backend: LocalBackend) -> None:
        self.backend = backend
        self.batch: BatchClient = backend.clients.batch
        self._names = 0

    def definition(self, name: str, **extra: Any) -> str:
        """Register a container job definition; its ARN."""
        properties: ContainerPropertiesTypeDef = {"image": IMAGE, "vcpus": 1, "memory": 256}
        properties.update(extra.pop("containerProperties", {}))
        return self.batch.register_job_definition(
            jobDefinitionName=name, type="container", containerProperties=properties, **extra
        )["jobDefinitionArn"]

    def submit(
        self,
        definition: str,
        command: Sequence[str] | None = None,
        *,
        name: str | None = None,
        environment: Mapping[str, str] | None = None,
        depends_on: Iterable[str] = (),
        dependency_type: ArrayJobDependencyType = "SEQUENTIAL",
        **extra: Any,
    ) -> str:
        """Submit one job; its id. `extra` passes further SubmitJob arguments through."""
        self._names += 1
        overrides: ContainerOverridesTypeDef = {}
        if command is not None:
            overrides["command"] = list(command)
        if environment:
            overrides["environment"] = [{"name": k, "value": v} for k, v in environment.items()]
        dependencies: list[JobDependencyTypeDef] = [
            {"jobId": job_id, "type": dependency_type} for job_id in depends_on
        ]
        return self.batch.submit_job(
            jobName=name or f"job-{self._names}",
            jobQueue=self.backend.queue,
            jobDefinition=definition,
            containerOverrides=overrides,
            dependsOn=dependencies,
            **extra,
        )["jobId"]

    def describe(self, job_id: str) -> JobDetailTypeDef:
        return self.batch.describe_jobs(jobs=[job_id])["jobs"][0]

    def wait(
        self,
        job_ids: Collection[str],
        *,
        statuses: Collection[str] = FINISHED,
        timeout: float = 20.0,
    ) -> dict[str, JobDetailTypeDef]:
        """Poll DescribeJobs until every job is in one of `statuses`; the last descriptions."""
        deadline = time.monotonic() + timeout
        pause = threading.Event()
        while True:
            jobs = self.batch.describe_jobs(jobs=list(job_ids))["jobs"]
            found = {job["jobId"]: job for job in jobs}
            if len(found) == len(job_ids) and all(
                job["status"] in statuses for job in found.values()
            ):
                return found
            if time.monotonic() > deadline:
                states = {job_id: job["status"] for job_id, job in found.items()}
                raise AssertionError(f"jobs did not reach {sorted(statuses)}: {states}")
            pause.wait(0.02)

    def wait_one(self, job_id: str, *, statuses: Collection[str] = FINISHED) -> JobDetailTypeDef:
        return self.wait([job_id], statuses=statuses)[job_id]

    def wait_for_log(self, job_id: str, *, timeout: float = 20.0) -> list[str]:
        """Poll until the running job's current attempt has written a line; its lines."""
        deadline = time.monotonic() + timeout
        pause = threading.Event()
        while True:
            job = self.describe(job_id)
            if job["status"] == "RUNNING" and "logStreamName" in job["container"]:
                lines = self.log(job)
                if lines:
                    return lines
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} wrote nothing: {job['status']}")
            pause.wait(0.02)

    def log(self, job: JobDetailTypeDef) -> list[str]:
        """The messages of the job's last attempt's log stream, through CloudWatch Logs."""
        stream = job["container"]["logStreamName"]
        events = self.backend.clients.logs.get_log_events(
            logGroupName="/aws/batch/job", logStreamName=stream, startFromHead=True
        )["events"]
        return [event["message"] for event in events]


def running(pid: int) -> bool:
    """Whether process `pid` still runs (a zombie, dead but not yet reaped by init, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # no procfs: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_until_gone(pids: Iterable[int], *, timeout: float = 10.0) -> list[int]:
    """Poll until none of `pids` runs; the ones still running after `timeout`."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        alive = [pid for pid in pids if running(pid)]
        if not alive or time.monotonic() > deadline:
            return alive
        pause.wait(0.05)


def contract_environment(backend: LocalBackend, layout: BatchLayout, index: int) -> dict[str, str]:
    return layout.environment(bucket=backend.bucket, index=index)


# -- the engine with a gated launcher: each job starts when its test opens its gate ---------------


class GatedHandle:
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


class GatedLauncher:
    """Starts nothing: each start blocks until the test opens the gate for that job."""

    def __init__(self) -> None:
        self.gates: dict[str, threading.Event] = {}
        self.handles: dict[str, GatedHandle] = {}
        self.started = threading.Condition()
        self.runs: list[ContainerRun] = []

    def gate(self, job_id: str) -> threading.Event:
        with self.started:
            return self.gates.setdefault(job_id, threading.Event())

    def start(self, run: ContainerRun, sink: LineSink) -> ProcessHandle:
        self.gate(run.job_id).wait()
        handle = GatedHandle(sink)
        sink(f"started {run.job_id}")
        with self.started:
            self.runs.append(run)
            self.handles[run.job_id] = handle
            self.started.notify_all()
        return handle

    def handle(self, job_id: str) -> GatedHandle:
        with self.started:
            self.started.wait_for(lambda: job_id in self.handles, timeout=5)
            return self.handles[job_id]


def threaded_engine(launcher: GatedLauncher, **options: Any) -> BatchEngine:
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


def register(engine: BatchEngine, name: str = "d") -> str:
    """A container job definition on `engine`; its ARN."""
    properties = {"image": "img", "vcpus": 1, "memory": 16}
    answer = engine.register_job_definition(
        {"jobDefinitionName": name, "type": "container", "containerProperties": properties}
    )
    return str(answer["jobDefinitionArn"])


def submit_to(engine: BatchEngine, definition: str, **extra: Any) -> str:
    request = {"jobName": "j", "jobQueue": "q", "jobDefinition": definition, **extra}
    return str(engine.submit_job(request)["jobId"])


def described(engine: BatchEngine, job_id: str) -> dict[str, Any]:
    jobs: list[dict[str, Any]] = engine.describe_jobs({"jobs": [job_id]})["jobs"]
    return jobs[0]


def wait_for(engine: BatchEngine, job_id: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    pause = threading.Event()
    while (job := described(engine, job_id))["status"] != status:
        assert time.monotonic() < deadline, f"{job_id} stuck in {job['status']}, not {status}"
        pause.wait(0.005)
    return job


# -- the engine on a stepping scheduler: each DescribeJobs moves the jobs it names one step ------


class ScriptedProgram:
    """A container that runs for `polls` polls, then exits with `code` (143 on SIGTERM if
    `stops_on_term`)."""

    def __init__(self, code: int, polls: int, *, stops_on_term: bool) -> None:
        self.code = code
        self.left = polls
        self.stops_on_term = stops_on_term
        self.terminated = False

    def poll(self) -> Exit | None:
        self.left -= 1
        return Exit(self.code) if self.left < 0 else None

    def terminate(self) -> Exit | None:
        self.terminated = True
        return Exit(SIGTERM_EXIT) if self.stops_on_term else None


class ScriptedPrograms:
    """What each job does: exit codes by job name, runs at once, or runs until killed."""

    def __init__(self, codes: Mapping[str, int] | None = None, *, polls: int = 0,
                 runs_for: int = 0, stops_on_term: bool = True) -> None:  # fmt: skip
        self.codes = dict(codes or {})
        self.describes_before_run = polls
        self.runs_for = runs_for
        self.stops_on_term = stops_on_term
        self.admitted: list[str] = []
        self.runs: list[ContainerRun] = []
        self.programs: dict[str, ScriptedProgram] = {}

    def admit(self, job: Job) -> None:
        self.admitted.append(job.job_id)

    def polls(self, job: Job) -> int:
        return self.describes_before_run

    def start(self, job: Job, run: ContainerRun, log: Callable[[str], None]) -> Program:
        self.runs.append(run)
        log(f"started attempt {run.attempt}")
        code = self.codes.get(job.definition.name, self.codes.get(job.name, 0))
        program = ScriptedProgram(code, self.runs_for, stops_on_term=self.stops_on_term)
        self.programs[run.job_id] = program
        return program


def stepping_engine(
    programs: ScriptedPrograms, *, capacity: Resources | None = None
) -> tuple[BatchEngine, VirtualClock, list[tuple[str, str]]]:
    """An engine over a `SteppingScheduler` (as a MotoWorld runs it, without moto): the
    engine, its virtual clock and the log lines written (stream, line)."""
    ids = (uuid.UUID(int=n) for n in range(1, 10_000))
    clock = VirtualClock(1_700_000_000.0)
    lines: list[tuple[str, str]] = []
    scheduler = SteppingScheduler(
        programs, lambda stream, line: lines.append((stream, line)), queue="q",
        region="us-east-1", capacity=capacity or Resources(vcpus=4, memory_mib=4096, gpus=0),
        clock=clock, new_id=lambda: next(ids),
    )  # fmt: skip
    return BatchEngine.over(scheduler), clock, lines
