"""What a conformance test talks to: plain boto3 clients of the local backend, of a MotoWorld
(the same engine on its stepping scheduler) or of real AWS."""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Collection, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

import boto3
import pytest

from pcr_sdk.local import LocalBackend
from pcr_sdk.testing import MotoWorld
from tests.conformance.programs import script_programs

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_batch.type_defs import (
        ContainerPropertiesTypeDef,
        JobDetailTypeDef,
    )
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_s3 import S3Client

AWS: Final = os.environ.get("PCR_CONFORMANCE_AWS") == "1"
Kind = Literal["local", "moto", "containers", "aws"]
KINDS: Final[tuple[Kind, ...]] = ("aws",) if AWS else ("local", "moto", "containers")
"""The targets the suite runs against: AWS alone, or the local backend (processes), a MotoWorld
and the local backend running containers (`containers` marker: `make test-containers`)."""
FINISHED: Final = frozenset({"SUCCEEDED", "FAILED"})
LOG_GROUP: Final = "/aws/batch/job"
LOCAL_TIMEOUT_SCALE: Final = 1 / 30
"""Locally a 60 s attemptDurationSeconds (AWS's minimum) times out after 2 s (time enough for a
job's Python to start on a busy machine), and the 30 s SIGTERM grace period lasts 1 s."""
CONTAINER_TIMEOUT_SCALE: Final = 1 / 6
"""In containers, 10 s and 5 s: a container takes a second or two to start on a busy machine."""
MOTO_WAIT_SECONDS: Final = 600.0
"""On a MotoWorld a wait may take 600 s of its virtual clock: 600 DescribeJobs calls."""


def local_only(reason: str) -> pytest.MarkDecorator:
    """Mark a test that checks something only pcr-sdk's engine (local backend, MotoWorld) offers."""
    return pytest.mark.skipif(AWS, reason=f"local engine only: {reason}")


@dataclass
class Target:
    """Plain boto3 clients of one backend, its queue and bucket, and short-hands over them."""

    batch: BatchClient
    s3: S3Client
    logs: CloudWatchLogsClient
    queue: str
    bucket: str
    image: str
    python: list[str]
    """How a job's command starts Python: this interpreter locally, the image's on AWS."""
    wait_seconds: float
    kind: Kind
    backend: LocalBackend | None = None
    world: MotoWorld | None = None
    job_role_arn: str | None = None
    prefix: str = field(default_factory=lambda: f"pcrconf-{uuid.uuid4().hex[:8]}")
    definitions: list[str] = field(default_factory=list)

    @property
    def local(self) -> bool:
        """pcr-sdk's engine answers (the local backend or a MotoWorld), not AWS."""
        return self.kind != "aws"

    @property
    def runs_images(self) -> bool:
        """Jobs run in their image (AWS, or the local backend's containers)."""
        return self.kind in ("aws", "containers")

    def skip_on_moto(self, reason: str) -> None:
        """Skip on a MotoWorld, whose jobs are programs in the test process."""
        if self.kind == "moto":
            pytest.skip(f"not on a MotoWorld: {reason}")

    def only_on(self, kind: Kind, reason: str) -> None:
        """Skip the test unless the target is of `kind`."""
        if self.kind != kind:
            pytest.skip(f"{kind} only: {reason}")

    def reclaim_host(self, job_id: str) -> str:
        """End the job's attempt as a Spot reclaim does (pcr-sdk's engine only)."""
        if self.backend is not None:
            return self.backend.reclaim_host(job_id)
        if self.world is not None:
            return self.world.reclaim_host(job_id)
        raise NotImplementedError("AWS has no API to reclaim a Spot instance on demand")

    def clock(self) -> float:
        """Seconds by which a wait is measured: a MotoWorld's virtual clock, else real time."""
        return self.world.clock() if self.world is not None else time.monotonic()

    def name(self, suffix: str) -> str:
        """A job or definition name unique to this run."""
        return f"{self.prefix}-{suffix}"

    def key(self, suffix: str) -> str:
        """An S3 key unique to this run (under jobs/, where the stack's job role may write)."""
        return f"jobs/{self.prefix}/{suffix}"

    def script(self, code: str, *args: str) -> list[str]:
        """A command running Python `code` with `args`."""
        return [*self.python, "-c", code, *args]

    def definition(
        self,
        suffix: str,
        command: Sequence[str] | None = None,
        *,
        vcpus: str = "1",
        memory: str = "256",
        **extra: Any,
    ) -> str:
        """Register a container job definition (deregistered at the end); its ARN."""
        properties: ContainerPropertiesTypeDef = {
            "image": self.image,
            "resourceRequirements": [
                {"type": "VCPU", "value": vcpus},
                {"type": "MEMORY", "value": memory},
            ],
        }
        if command is not None:
            properties["command"] = list(command)
        if self.job_role_arn:
            properties["jobRoleArn"] = self.job_role_arn
        properties.update(extra.pop("containerProperties", {}))
        arn = self.batch.register_job_definition(
            jobDefinitionName=self.name(suffix),
            type="container",
            containerProperties=properties,
            **extra,
        )["jobDefinitionArn"]
        self.definitions.append(arn)
        return arn

    def submit(
        self,
        definition: str,
        command: Sequence[str] | None = None,
        *,
        name: str | None = None,
        depends_on: Collection[str] = (),
        **extra: Any,
    ) -> str:
        """Submit a job; its id."""
        if command is not None:
            extra.setdefault("containerOverrides", {})["command"] = list(command)
        if depends_on:
            extra["dependsOn"] = [{"jobId": job_id} for job_id in depends_on]
        return self.batch.submit_job(
            jobName=name or self.name("job"), jobQueue=self.queue, jobDefinition=definition, **extra
        )["jobId"]

    def describe(self, job_id: str) -> JobDetailTypeDef:
        return self.batch.describe_jobs(jobs=[job_id])["jobs"][0]

    def wait_for(
        self, job_id: str, done: Callable[[JobDetailTypeDef], bool], what: str
    ) -> JobDetailTypeDef:
        """Poll DescribeJobs until `done(job)`; the job then."""
        deadline = self.clock() + self.wait_seconds
        pause = threading.Event()
        while True:
            job = self.describe(job_id)
            if done(job):
                return job
            if self.clock() > deadline:
                raise AssertionError(f"job {job_id} never got {what}: {job['status']}")
            if self.world is None:  # a MotoWorld's DescribeJobs moves its clock on
                pause.wait(0.05 if self.local else 5)

    def wait(
        self, job_ids: Collection[str], statuses: Collection[str] = FINISHED
    ) -> dict[str, JobDetailTypeDef]:
        """Poll until every job is in one of `statuses`; their descriptions."""
        return {
            job_id: self.wait_for(job_id, lambda job: job["status"] in statuses, str(statuses))
            for job_id in job_ids
        }

    def log(self, job: JobDetailTypeDef) -> list[str]:
        """The lines of the job's last attempt, from CloudWatch Logs."""
        events = self.logs.get_log_events(
            logGroupName=LOG_GROUP,
            logStreamName=job["container"]["logStreamName"],
            startFromHead=True,
        )["events"]
        return [event["message"] for event in events]

    def wait_for_line(self, job_id: str, line: str) -> JobDetailTypeDef:
        """Poll until the running job has logged `line`."""

        def logged(job: JobDetailTypeDef) -> bool:
            if job["status"] in FINISHED:
                raise AssertionError(f"job {job_id} ended before logging {line!r}")
            stream = job.get("container", {}).get("logStreamName")
            return job["status"] == "RUNNING" and stream is not None and line in self.log(job)

        return self.wait_for(job_id, logged, f"log line {line!r}")

    def release(self, suffix: str) -> None:
        """Create the S3 object a `WAIT_FOR_KEY` job waits for."""
        self.s3.put_object(Bucket=self.bucket, Key=self.key(suffix), Body=b"go")


def _aws_target() -> Generator[Target, None, None]:
    environ: Mapping[str, str] = os.environ
    missing = [
        name
        for name in ("PCR_CONFORMANCE_QUEUE", "PCR_CONFORMANCE_BUCKET", "PCR_CONFORMANCE_IMAGE")
        if not environ.get(name)
    ]
    if missing:
        pytest.fail(f"PCR_CONFORMANCE_AWS=1 needs {', '.join(missing)} (tests/conformance)")
    session = boto3.Session(region_name=environ.get("PCR_CONFORMANCE_REGION"))
    yield Target(
        batch=session.client("batch"),
        s3=session.client("s3"),
        logs=session.client("logs"),
        queue=environ["PCR_CONFORMANCE_QUEUE"],
        bucket=environ["PCR_CONFORMANCE_BUCKET"],
        image=environ["PCR_CONFORMANCE_IMAGE"],
        python=["python3"],
        wait_seconds=float(environ.get("PCR_CONFORMANCE_WAIT_SECONDS", "1800")),
        kind="aws",
        job_role_arn=environ.get("PCR_CONFORMANCE_JOB_ROLE_ARN"),
    )


def _backend_target(
    kind: Kind, image: str, python: list[str], wait_seconds: float, **options: Any
) -> Generator[Target, None, None]:
    with LocalBackend(
        vcpus=4,
        memory_mib=8192,
        gpus=0,
        queue="pcr-conformance",
        bucket="pcr-conformance",
        **options,
    ) as backend:
        # Plain clients that pcr-sdk never touched, over HTTP to the backend's endpoint
        session = boto3.Session(
            aws_access_key_id=backend.credentials.access_key_id,
            aws_secret_access_key=backend.credentials.secret_access_key,
            region_name=backend.region,
        )
        endpoint = backend.endpoint_url
        yield Target(
            batch=session.client("batch", endpoint_url=endpoint),
            s3=session.client("s3", endpoint_url=endpoint),
            logs=session.client("logs", endpoint_url=endpoint),
            queue=backend.queue,
            bucket=backend.bucket,
            image=image,
            python=python,
            wait_seconds=wait_seconds,
            kind=kind,
            backend=backend,
        )


def _local_target() -> Generator[Target, None, None]:
    return _backend_target(
        "local", "python:3.11-slim", [sys.executable], 30, timeout_scale=LOCAL_TIMEOUT_SCALE
    )


def _containers_target() -> Generator[Target, None, None]:
    from tests.support.containers import ensure_worker_image, require_runtime

    runtime = require_runtime()
    image = ensure_worker_image(runtime)
    yield from _backend_target(
        "containers",
        image,
        ["python3"],
        120,
        containers=runtime,
        timeout_scale=CONTAINER_TIMEOUT_SCALE,
    )


def _moto_target() -> Generator[Target, None, None]:
    with MotoWorld(queue="pcr-conformance", bucket="pcr-conformance") as world:
        clients = world.clients
        # each job runs the in-process twin of the `scripts` program in its command
        batch = world._batch
        assert batch is not None
        batch.programs.factory = script_programs(world.session.client("s3"))
        yield Target(
            batch=clients.batch,
            s3=clients.s3,
            logs=clients.logs,
            queue=world.queue,
            bucket=world.bucket,
            image="python:3.11-slim",
            python=["python3"],
            wait_seconds=MOTO_WAIT_SECONDS,
            kind="moto",
            world=world,
        )


def open_target(kind: Kind) -> Generator[Target, None, None]:
    """A backend to test (a generator: close it to stop a local backend or a world)."""
    targets = {
        "aws": _aws_target,
        "local": _local_target,
        "moto": _moto_target,
        "containers": _containers_target,
    }
    return targets[kind]()
