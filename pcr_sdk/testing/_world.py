"""`MotoWorld`: a mocked AWS account with a Batch queue and an S3 bucket, for one test."""

from __future__ import annotations

import copy
import functools
import json
import os
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeVar, cast
from unittest import mock

import boto3
import botocore.handlers
import botocore.loaders
import botocore.retries.standard
import botocore.retryhandler
import botocore.session
from moto import mock_aws

from pcr_sdk._private.edge.clients import AwsClients
from pcr_sdk._private.public import public
from pcr_sdk._private.seams import Seams
from pcr_sdk.local._stepping import VirtualClock
from pcr_sdk.testing._batch import BatchRouter, HarnessIO, WorldBatch
from pcr_sdk.testing._faults import FaultInjector
from pcr_sdk.testing._script import JobScript, JobView, environment_of

if TYPE_CHECKING:
    from collections.abc import Callable

    from botocore.awsrequest import AWSResponse
    from botocore.hooks import BaseEventHooks
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_s3 import S3Client

T = TypeVar("T")
DUMMY_CREDENTIAL: Final = "testing"
_CONTEXT_KEY: Final = "pcr_testing_submit_call"
_ROLE_POLICY: Final = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "batch.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


@public("pcr_sdk.testing")
@dataclass(frozen=True)
class SubmittedCall:
    """One SubmitJob call exactly as the client sent it, and the job id it got back.

    `job_id` is None when the call did not succeed from the client's point of view (every
    attempt failed, or the response was lost even though the mock applied it).
    """

    job_id: str | None
    """The id of the job it made; None if the call did not succeed for the client."""
    job_name: str
    """The request's `jobName`."""
    job_queue: str
    """Its `jobQueue`."""
    job_definition: str
    """Its `jobDefinition`."""
    environment: dict[str, str]
    """Its container overrides' environment variables."""
    depends_on: list[str]
    """The ids in its `dependsOn`."""
    timeout_seconds: int | None
    """Its `timeout.attemptDurationSeconds`, if any."""
    tags: dict[str, str]
    """Its tags."""
    params: dict[str, Any] = field(repr=False)
    """Every parameter of the request, as sent (a copy)."""

    @classmethod
    def from_params(cls, params: dict[str, Any], job_id: str | None) -> SubmittedCall:
        """Build from SubmitJob's request parameters and the job id it answered.

        Args:
            params: the SubmitJob request's parameters (copied).
            job_id: the id of the job it made; None if its answer was lost.

        Returns:
            The call.
        """
        overrides = params.get("containerOverrides") or {}
        timeout = params.get("timeout") or {}
        seconds = timeout.get("attemptDurationSeconds")
        return cls(
            job_id=job_id,
            job_name=str(params.get("jobName", "")),
            job_queue=str(params.get("jobQueue", "")),
            job_definition=str(params.get("jobDefinition", "")),
            environment=environment_of(overrides.get("environment") or []),
            depends_on=[str(d["jobId"]) for d in params.get("dependsOn") or [] if "jobId" in d],
            timeout_seconds=int(seconds) if seconds is not None else None,
            tags={str(k): str(v) for k, v in (params.get("tags") or {}).items()},
            params=copy.deepcopy(params),
        )


@dataclass
class _CallRecord:
    params: dict[str, Any]
    job_id: str | None = None


class _SubmitCapture:
    """Records every SubmitJob call made through one session's clients."""

    def __init__(self) -> None:
        self._records: list[_CallRecord] = []
        self._lock = threading.Lock()

    def install(self, events: BaseEventHooks) -> None:
        events.register(
            "before-parameter-build.batch.SubmitJob", self._on_params, unique_id="pcr-capture-1"
        )
        events.register("after-call.batch.SubmitJob", self._on_response, unique_id="pcr-capture-2")

    def _on_params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        with self._lock:
            context[_CONTEXT_KEY] = len(self._records)
            self._records.append(_CallRecord(params=copy.deepcopy(params)))

    def _on_response(
        self,
        http_response: AWSResponse,
        parsed: dict[str, Any],
        context: dict[str, Any],
        **_: Any,
    ) -> None:
        position = context.get(_CONTEXT_KEY)
        if position is None or http_response.status_code >= 300:
            return
        with self._lock:
            self._records[position].job_id = parsed.get("jobId")

    def calls(self) -> list[SubmittedCall]:
        with self._lock:
            records = list(self._records)
        return [SubmittedCall.from_params(r.params, r.job_id) for r in records]


# Like importing moto, importing pcr_sdk.testing adds a before-send handler to every botocore
# session made from now on: it hands Batch requests to the active world's engine, and answers
# nothing while no world is active.
_ROUTER: Final = BatchRouter()
_ROUTER_HANDLER: Final = cast("Callable[..., None]", _ROUTER)  # before-send handlers may answer
botocore.handlers.BUILTIN_HANDLERS.append(
    ("before-send", _ROUTER_HANDLER, botocore.handlers.REGISTER_FIRST)
)


@functools.cache
def _shared_loader() -> botocore.loaders.Loader:
    """One loader for every world's sessions: it caches the parsed service models, which
    otherwise dominate the cost of entering a world."""
    return botocore.loaders.create_loader()


def _new_session(region: str) -> boto3.Session:
    core = botocore.session.Session()
    core.register_component("data_loader", _shared_loader())
    return boto3.Session(
        aws_access_key_id=DUMMY_CREDENTIAL,
        aws_secret_access_key=DUMMY_CREDENTIAL,
        aws_session_token=DUMMY_CREDENTIAL,
        region_name=region,
        botocore_session=core,
    )


@dataclass(frozen=True)
class _Admin:
    s3: S3Client
    logs: CloudWatchLogsClient
    batch: BatchClient
    iam: IAMClient


@functools.cache
def _admin_clients(region: str) -> _Admin:
    """The harness's own clients, made once per region and process (a session and four clients
    cost about 60 ms, a third of entering a world): nothing is registered on them, and they
    hold no world's state (moto's stubber and the router answer for the world entered)."""
    admin = _new_session(region)
    return _Admin(admin.client("s3"), admin.client("logs"), admin.client("batch"),
                  admin.client("iam"))  # fmt: skip


def _no_backoff(*_: Any, **__: Any) -> float:
    return 0.0


@public("pcr_sdk.testing")
class MotoWorld:
    """A mocked AWS account for one test: Batch queue, S3 bucket, scripted jobs, faults.

    Entering starts moto and a Batch engine of its own (clients of every botocore session made
    since `pcr_sdk.testing` was imported send their Batch requests there), isolates the process
    from the user's AWS configuration (every ``AWS_*`` variable is hidden; config and credential
    files point to the null device; dummy credentials), zeroes botocore's retry backoff, and
    points ``boto3.DEFAULT_SESSION`` at `session`. Exiting undoes all of it (``os.environ`` is
    restored to its state on entry, so variables set while the world was active are dropped
    too). One world can be active at a time.
    """

    _active: ClassVar[MotoWorld | None] = None
    _active_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        *,
        region: str = "eu-central-1",
        bucket: str = "pcr-test-bucket",
        queue: str = "pcr-test-queue",
        polls_to_finish: int = 0,
    ) -> None:
        """Configure the world; the account exists only between `__enter__` and `__exit__`.

        Args:
            region: the mocked account's region.
            bucket: the S3 bucket created on entry.
            queue: the AWS Batch job queue created on entry (with a compute environment).
            polls_to_finish: DescribeJobs calls a job stays unfinished for (`JobScript`).
        """
        self.region = region
        self.bucket = bucket
        self.queue = queue
        self.script = JobScript(polls_to_finish=polls_to_finish)
        self.faults = FaultInjector()
        self._capture = _SubmitCapture()
        self._stack: ExitStack | None = None
        self._session: boto3.Session | None = None
        self._clients: AwsClients | None = None
        self._admin_batch: BatchClient | None = None
        self._batch: WorldBatch | None = None
        self._queue_arn: str | None = None
        self._role_arn: str | None = None

    # --- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> MotoWorld:
        with MotoWorld._active_lock:
            if MotoWorld._active is not None:
                raise RuntimeError("another MotoWorld is active; worlds cannot be nested")
            if self._stack is not None:
                raise RuntimeError("a MotoWorld can be entered only once")
            MotoWorld._active = self
        stack = ExitStack()
        self._stack = stack
        try:
            self._start(stack)
        except BaseException:
            self._close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close()

    def _close(self) -> None:
        try:
            if self._stack is not None:
                self._stack.close()
        finally:
            self._session = self._clients = self._admin_batch = self._batch = None
            with MotoWorld._active_lock:
                if MotoWorld._active is self:
                    MotoWorld._active = None

    def _start(self, stack: ExitStack) -> None:
        stack.enter_context(mock.patch.dict(os.environ))
        for name in [name for name in os.environ if name.startswith("AWS_")]:
            del os.environ[name]
        os.environ.update(
            {
                "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIAL,
                "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIAL,
                "AWS_SESSION_TOKEN": DUMMY_CREDENTIAL,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_EC2_METADATA_DISABLED": "true",
            }
        )
        stack.enter_context(mock_aws(config={"batch": {"use_docker": False}}))
        stack.enter_context(
            mock.patch.object(
                botocore.retries.standard.ExponentialBackoff, "delay_amount", _no_backoff
            )
        )
        stack.enter_context(
            mock.patch.object(botocore.retryhandler, "delay_exponential", _no_backoff)
        )

        admin = _admin_clients(self.region)  # the harness's own calls: no faults, not captured
        session = _new_session(self.region)
        events = session.events
        events.unregister("before-send", _ROUTER_HANDLER)  # the faults first, then the engine
        self.faults.install(events)
        events.register_first("before-send", _ROUTER_HANDLER)
        self._capture.install(events)
        stack.enter_context(mock.patch.object(boto3, "DEFAULT_SESSION", session))
        self._session = session
        self._clients = AwsClients.from_session(session, region_name=self.region)

        clock = VirtualClock(time.time())
        io = HarnessIO(s3=admin.s3, logs=admin.logs, clock=clock)
        self._admin_batch = admin.batch
        batch = WorldBatch(
            self.script,
            io,
            queue=self.queue,
            region=self.region,
            clock=clock,
            moto_batch=self._admin_batch,
        )
        stack.callback(batch.close)
        self._batch = batch
        _ROUTER.attach(batch.endpoint)
        stack.callback(_ROUTER.attach, None)
        self._provision(admin)

    def _provision(self, admin: _Admin) -> None:
        """The role, compute environment and job queue (in moto's Batch), and the bucket."""
        batch, s3 = admin.batch, admin.s3
        role = admin.iam.create_role(
            RoleName="pcr-test-batch-role", AssumeRolePolicyDocument=_ROLE_POLICY
        )
        self._role_arn = role["Role"]["Arn"]
        environment = batch.create_compute_environment(
            computeEnvironmentName="pcr-test-compute",
            type="UNMANAGED",
            state="ENABLED",
            serviceRole=self._role_arn,
        )
        queue = batch.create_job_queue(
            jobQueueName=self.queue,
            state="ENABLED",
            priority=1,
            computeEnvironmentOrder=[
                {"order": 1, "computeEnvironment": environment["computeEnvironmentArn"]}
            ],
        )
        self._queue_arn = queue["jobQueueArn"]
        if self.region == "us-east-1":
            s3.create_bucket(Bucket=self.bucket)
        else:
            s3.create_bucket(
                Bucket=self.bucket,
                CreateBucketConfiguration={"LocationConstraint": self.region},  # type: ignore[typeddict-item] # any region string is valid here
            )

    # --- what tests use ---------------------------------------------------------------------

    @property
    def session(self) -> boto3.Session:
        """Dummy-credential session; its clients are mocked, captured and see the faults."""
        return _entered(self._session)

    @property
    def clients(self) -> AwsClients:
        """Batch, S3 and Logs clients of `session`, with pcr-sdk's standard retries."""
        return _entered(self._clients)

    @property
    def queue_arn(self) -> str:
        """The job queue's ARN (only while the world is entered)."""
        return _entered(self._queue_arn)

    @property
    def role_arn(self) -> str:
        """The IAM role the compute environment uses (exists in the mock)."""
        return _entered(self._role_arn)

    def submitted(self) -> list[SubmittedCall]:
        """Every SubmitJob call made through `session`'s clients, in the order they began.

        Returns:
            The calls, a lost answer's included (its `job_id` is None).
        """
        return self._capture.calls()

    def jobs(self) -> list[JobView]:
        """Every job AWS Batch accepted (through any client), in submission order (an array
        parent, then its children).

        Returns:
            What the script knows of each job.
        """
        return _entered(self._batch).views()

    @property
    def clock(self) -> VirtualClock:
        """The world's clock: seconds since the epoch, from the real time on entry.

        Each DescribeJobs call moves it one second on; ``clock.advance(seconds)`` moves it
        further. Job timestamps, timeouts and TerminateJob's grace period follow it.
        """
        return _entered(self._batch).clock

    @property
    def seams(self) -> Seams:
        """`Seams` on the world's clock: pass `seams=world.seams` to a `JobSubmitter`.

        Its sleep advances the clock instead of waiting, so no wait takes real time; no
        heartbeat thread runs (on real time, it would make a run depend on how long it takes).
        """
        clock = self.clock
        return Seams(clock=clock, sleep=clock.advance, heartbeat=False)

    def reclaim_host(self, job_id: str) -> str:
        """End the STARTING or RUNNING job's attempt as a Spot reclaim does; its statusReason.

        On the job's next describe its container gets SIGTERM and the attempt ends without an
        exit code, with the statusReason ``Host EC2 (instance i-...) terminated.``; the job's
        retry strategy decides what follows (as with `pcr_sdk.local.LocalBackend.reclaim_host`).

        Args:
            job_id: a job (or array child) of this world.

        Returns:
            The attempt's statusReason.

        Raises:
            KeyError: there is no such job.
            ValueError: the job is not STARTING or RUNNING.
            RuntimeError: the world is not entered.
        """
        return _entered(self._batch).engine.reclaim_host(job_id)

    def register_job_definition(
        self, name: str = "pcr-test-job", *, image: str = "python:3.11"
    ) -> str:
        """Register a small container job definition (not captured, no faults): 1 vCPU, 512 MiB.

        Args:
            name: the definition's name.
            image: its container image.

        Returns:
            The definition's ARN.
        """
        batch = _entered(self._admin_batch)
        response = batch.register_job_definition(
            jobDefinitionName=name,
            type="container",
            containerProperties={
                "image": image,
                "resourceRequirements": [
                    {"type": "VCPU", "value": "1"},
                    {"type": "MEMORY", "value": "512"},
                ],
            },
        )
        return response["jobDefinitionArn"]


def _entered(value: T | None) -> T:
    if value is None:
        raise RuntimeError("the MotoWorld is not entered (use it as a context manager)")
    return value
