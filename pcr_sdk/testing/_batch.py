"""A world's AWS Batch: pcr-sdk's local engine on a stepping scheduler, with scripted jobs.

Job and job definition requests (SubmitJob, DescribeJobs, ListJobs, CancelJob, TerminateJob,
Register/Deregister/DescribeJobDefinitions, tags of jobs and definitions) are answered by the
local engine (`pcr_sdk.local`), the same code `LocalBackend` runs. Its scheduler is the
stepping one: jobs move one step per DescribeJobs on a virtual clock, and the container of a
job's attempt is a `JobScript`-driven program run in-process. Compute environments and job
queues stay with moto (so do CloudFormation stacks that create them); the engine accepts
every queue moto knows.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote, urlsplit

from botocore.exceptions import ClientError

from pcr_sdk._private.wire import facts
from pcr_sdk._private.wire.facts import BATCH_LOG_GROUP, DEPENDENCY_FAILED_REASON, ENV_ARRAY_INDEX
from pcr_sdk.local._capacity import Resources
from pcr_sdk.local._engine import BatchEngine
from pcr_sdk.local._model import Job
from pcr_sdk.local._process import ContainerRun
from pcr_sdk.local._stepping import (
    SIGTERM_EXIT,
    Exit,
    LineSink,
    Program,
    SteppingScheduler,
    VirtualClock,
)
from pcr_sdk.local._wire import RestJsonEndpoint, service_model
from pcr_sdk.testing._faults import DIVERTED_HOST
from pcr_sdk.testing._script import ESSENTIAL_CONTAINER_EXITED, Failure, JobScript, JobView
from pcr_sdk.worker import JobContext

if TYPE_CHECKING:
    from botocore.awsrequest import AWSPreparedRequest, AWSResponse
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

LOG_GROUP: Final = BATCH_LOG_GROUP
DEPENDENCY_FAILED: Final = DEPENDENCY_FAILED_REASON
LARGEST_JOB: Final = Resources(vcpus=facts.MAX_VCPUS, memory_mib=2 * 1024 * 1024, gpus=8)
"""What one job of a world may ask for: 256 vCPUs, 2 TiB of memory and 8 GPUs."""
ENGINE_OPERATIONS: Final = frozenset(
    {
        "RegisterJobDefinition",
        "DeregisterJobDefinition",
        "DescribeJobDefinitions",
        "SubmitJob",
        "DescribeJobs",
        "ListJobs",
        "CancelJob",
        "TerminateJob",
    }
)
"""The Batch operations the engine answers; the others (queues, compute environments) go to
moto. Tag operations go to the engine for jobs and job definitions."""
_TAG_OPERATIONS: Final = frozenset({"TagResource", "UntagResource", "ListTagsForResource"})
_TAGS_PATH: Final = "/v1/tags/"
_CLAIMED_HOSTS: Final = frozenset({"pcr-local.invalid", urlsplit(DIVERTED_HOST).hostname})
_FUTURE_LOG_MS: Final = 3_600_000


class HarnessIO:
    """The harness's own S3 and Logs access: unfaulted, uncaptured clients on the mock."""

    def __init__(
        self,
        *,
        s3: S3Client,
        logs: CloudWatchLogsClient,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._s3 = s3
        self._logs = logs
        self._clock = clock
        self._streams: set[str] = set()
        self._lock = threading.Lock()

    def run_worker(self, handler: Callable[[Any], object], environment: dict[str, str]) -> None:
        """Read the job's input, call `handler`, write output.json, as its container would.

        Goes through `pcr_sdk.worker.JobContext`, so plain jobs (config.json) and array
        children (packed inputs) are resolved exactly as in a real container.
        """
        context = JobContext.from_env(environment, s3=self._s3)
        context.save_output(handler(context.load_input()))

    def put_log(self, stream: str, line: str) -> None:
        """Append `line` to `stream` in /aws/batch/job, creating both as needed.

        An empty line is left out, as Docker's awslogs driver does (CloudWatch Logs refuses it).
        """
        if not line:
            return
        with self._lock:
            if not self._streams:
                with contextlib.suppress(self._logs.exceptions.ResourceAlreadyExistsException):
                    self._logs.create_log_group(logGroupName=LOG_GROUP)
            if stream not in self._streams:
                with contextlib.suppress(self._logs.exceptions.ResourceAlreadyExistsException):
                    self._logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
                self._streams.add(stream)
        # moto refuses events more than 2 hours ahead of the real clock
        now = min(int(self._clock() * 1000), int(time.time() * 1000) + _FUTURE_LOG_MS)
        self._logs.put_log_events(
            logGroupName=LOG_GROUP,
            logStreamName=stream,
            logEvents=[{"timestamp": now, "message": line}],
        )


class _ScriptedContainer:
    """A job attempt's container as the `JobScript` says: succeed, fail, or run the worker."""

    def __init__(
        self, script: JobScript, io: HarnessIO, view: JobView, run: ContainerRun, log: LineSink
    ) -> None:
        self._script = script
        self._io = io
        self._view = view
        self._run = run
        self._log = log

    def poll(self) -> Exit:
        failure = self._script.failure_for(self._view)
        handler = self._script.handler
        if failure is None and handler is not None:
            failure = self._run_worker(handler)
        if failure is None:
            return Exit(0)
        for line in failure.log_lines:
            self._log(line)
        if failure.exit_code is None:  # an infrastructure failure: the container never ran
            return Exit(None, reason=failure.reason, status_reason=failure.reason)
        return Exit(failure.exit_code, status_reason=failure.reason)

    def terminate(self) -> Exit:
        return Exit(SIGTERM_EXIT)  # a scripted container ends on SIGTERM

    def _run_worker(self, handler: Callable[[Any], object]) -> Failure | None:
        try:
            self._io.run_worker(handler, dict(self._run.environment))
        except Exception as err:  # any worker error is the job's failure, as in a container
            logger.debug("simulated worker of job %s failed", self._run.job_id, exc_info=True)
            text = "".join(traceback.format_exception_only(type(err), err)).strip()
            return Failure(exit_code=1, reason=ESSENTIAL_CONTAINER_EXITED, log_lines=(text,))
        return None


ProgramFactory = Callable[[JobView, ContainerRun, LineSink], Program]
"""Starts a job attempt's container: the `JobScript` by default."""


class ScriptedPrograms:
    """The world's `Programs`: a `JobView` per job, polls and containers from the script."""

    def __init__(self, script: JobScript, io: HarnessIO) -> None:
        self._script = script
        self._io = io
        self._views: list[JobView] = []
        self._by_id: dict[str, JobView] = {}
        self._lock = threading.Lock()
        self.factory: ProgramFactory = self._scripted

    def admit(self, job: Job) -> None:
        environment = dict(job.environment)
        if job.index is not None:
            environment[ENV_ARRAY_INDEX] = str(job.index)
        with self._lock:
            view = JobView(
                job_id=job.job_id,
                job_name=job.name,
                environment=environment,
                order=len(self._views),
                index=JobView.index_from(environment),
                depends_on=tuple(str(d["jobId"]) for d in job.depends_on if "jobId" in d),
            )
            self._views.append(view)
            self._by_id[job.job_id] = view

    def views(self) -> list[JobView]:
        with self._lock:
            return list(self._views)

    def polls(self, job: Job) -> int:
        return self._script.polls_for(self._by_id[job.job_id])

    def start(self, job: Job, run: ContainerRun, log: LineSink) -> Program:
        return self.factory(self._by_id[job.job_id], run, log)

    def _scripted(self, view: JobView, run: ContainerRun, log: LineSink) -> Program:
        return _ScriptedContainer(self._script, self._io, view, run, log)


class BatchRouter:
    """A `before-send` handler that hands a world's Batch requests to its engine.

    It answers job and job definition operations (see `ENGINE_OPERATIONS`) and lets every
    other request through to moto; requests a fault already answered are left alone.
    """

    def __init__(self) -> None:
        self._endpoint: RestJsonEndpoint | None = None

    def attach(self, endpoint: RestJsonEndpoint | None) -> None:
        self._endpoint = endpoint

    def __call__(
        self, request: AWSPreparedRequest, event_name: str, **_: Any
    ) -> AWSResponse | None:
        endpoint = self._endpoint
        parts = event_name.split(".")
        if endpoint is None or len(parts) != 3 or parts[1] != "batch":
            return None
        url = urlsplit(request.url)
        if url.hostname in _CLAIMED_HOSTS:
            return None
        operation = parts[2]
        if operation in _TAG_OPERATIONS:
            arn = unquote(url.path.rsplit(_TAGS_PATH, 1)[-1])
            if ":job/" not in arn and ":job-definition/" not in arn:
                return None
        elif operation not in ENGINE_OPERATIONS:
            return None
        return endpoint(request)


class WorldBatch:
    """The engine, its stepping scheduler and clock, for one world."""

    def __init__(
        self,
        script: JobScript,
        io: HarnessIO,
        *,
        queue: str,
        region: str,
        clock: VirtualClock,
        moto_batch: BatchClient,
    ) -> None:
        self.programs = ScriptedPrograms(script, io)
        self.clock = clock
        self.scheduler = SteppingScheduler(
            self.programs,
            io.put_log,
            queue=queue,
            region=region,
            capacity=LARGEST_JOB,
            clock=clock,
        )
        self._moto_batch = moto_batch
        self._queues: dict[str, str] = {}
        self.engine = BatchEngine.over(self.scheduler, queues=self._queue_arn)
        self.endpoint = RestJsonEndpoint(service_model("batch"), self.engine.operations())

    def views(self) -> list[JobView]:
        return self.programs.views()

    def close(self) -> None:
        self.scheduler.close()

    def _queue_arn(self, value: str) -> str | None:
        """A queue moto knows (one a CloudFormation stack created, say): its ARN."""
        known = self._queues.get(value)
        if known is not None:
            return known
        try:
            found = self._moto_batch.describe_job_queues(jobQueues=[value])["jobQueues"]
        except ClientError:
            return None
        if not found:
            return None
        arn = found[0]["jobQueueArn"]
        self._queues[value] = arn
        return arn
