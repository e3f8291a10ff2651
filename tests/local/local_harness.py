"""Helpers for the local backend's tests: worker commands, job definitions, submitting, waiting."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pcr_sdk._private.wire.layout import BatchLayout
from pcr_sdk.local import LocalBackend
from pcr_sdk.local._process import ContainerRun

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
