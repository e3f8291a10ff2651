"""The local AWS Batch engine: job definitions, jobs, dependencies, the scheduler, the runners.

Every state change happens under one `threading.Condition`. The scheduler thread sleeps on it
until something changes (a submission, an attempt ending, a cancel) or the nearest attempt
deadline; it moves SUBMITTED jobs to PENDING and on to RUNNABLE once their dependencies
succeeded, hands free slots to RUNNABLE jobs, and kills attempts that ran out of time. Each
started attempt gets a runner thread that launches the process, waits for it, and records the
outcome (retrying while `retryStrategy.attempts` allows).

The public methods are the AWS Batch operations: they take the decoded request and return the
response body, shaped like botocore's service model; bad requests raise `ServiceError`.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from pcr_sdk._private.aws import BATCH_STATUSES, JobStatus
from pcr_sdk.local._logs import LogStore
from pcr_sdk.local._process import ContainerRun, Launcher, LaunchError, ProcessHandle
from pcr_sdk.local._wire import JsonObject, Operation, ServiceError, client_exception

logger = logging.getLogger(__name__)

ACCOUNT_ID: Final = "123456789012"

DEPENDENCY_FAILED: Final = "Dependent Job failed"
CONTAINER_EXITED: Final = "Essential container in task exited"
TIMED_OUT: Final = "Job attempt duration exceeded timeout"
START_FAILED: Final = "Task failed to start"
SHUT_DOWN: Final = "The local backend shut down"

MAX_DESCRIBE_JOBS: Final = 100
MAX_DEPENDENCIES: Final = 20
MIN_ARRAY_SIZE: Final = 2
MAX_ARRAY_SIZE: Final = 10_000
MIN_TIMEOUT_SECONDS: Final = 60
MAX_ATTEMPTS: Final = 10
MAX_NAME_LENGTH: Final = 128
MAX_LIST_RESULTS: Final = 1000
DEFAULT_LIST_RESULTS: Final = 100

_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_DEFINITION_NAME: Final = re.compile(r"[A-Za-z0-9_-]+")
_FINISHED: Final = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED})
_CANCELLABLE: Final = frozenset({JobStatus.SUBMITTED, JobStatus.PENDING, JobStatus.RUNNABLE})
_STARTED: Final = frozenset({JobStatus.STARTING, JobStatus.RUNNING})


def _check_name(value: object, what: str, pattern: re.Pattern[str]) -> str:
    if not isinstance(value, str) or not value:
        raise client_exception(f"{what} is required")
    if len(value) > MAX_NAME_LENGTH or not pattern.fullmatch(value):
        raise client_exception(
            f"{what} {value!r} is invalid: up to {MAX_NAME_LENGTH} letters, numbers, hyphens "
            "and underscores" + (", starting with a letter or number" if pattern is _NAME else "")
        )
    return value


def _required(params: JsonObject, key: str) -> str:
    value = params.get(key)
    if not isinstance(value, str) or not value:
        raise client_exception(f"{key} is required")
    return value


def _int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise client_exception(f"{what} must be an integer")
    return value


def _environment(entries: object, what: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise client_exception(f"{what}: every entry needs a name")
        result[entry["name"]] = str(entry.get("value", ""))
    return result


def _encode_token(position: int) -> str:
    return base64.urlsafe_b64encode(f"pcr-local:{position}".encode()).decode()


def _decode_token(token: object) -> int:
    try:
        text = base64.urlsafe_b64decode(str(token).encode()).decode()
        prefix, _, number = text.partition(":")
        if prefix != "pcr-local" or not number.isdigit():
            raise ValueError(text)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError) as err:
        raise client_exception(f"invalid nextToken {token!r}") from err


def _max_results(params: JsonObject, default: int) -> int:
    value = params.get("maxResults")
    if value is None:
        return default
    count = _int(value, "maxResults")
    if not 1 <= count <= MAX_LIST_RESULTS:
        raise client_exception(f"maxResults must be between 1 and {MAX_LIST_RESULTS}")
    return count


@dataclass(eq=False)
class _Definition:
    name: str
    revision: int
    arn: str
    type: str
    container: JsonObject
    retry: JsonObject | None
    timeout: JsonObject | None
    parameters: dict[str, str]
    tags: dict[str, str]
    propagate_tags: bool
    platform_capabilities: list[str]
    status: str = "ACTIVE"

    @property
    def image(self) -> str:
        return str(self.container.get("image", ""))

    @property
    def command(self) -> tuple[str, ...] | None:
        command = self.container.get("command")
        return tuple(str(part) for part in command) if command else None

    def describe(self) -> JsonObject:
        detail: JsonObject = {
            "jobDefinitionName": self.name,
            "jobDefinitionArn": self.arn,
            "revision": self.revision,
            "status": self.status,
            "type": self.type,
            "parameters": dict(self.parameters),
            "containerProperties": self.container,
            "tags": dict(self.tags),
            "propagateTags": self.propagate_tags,
            "platformCapabilities": list(self.platform_capabilities),
            "containerOrchestrationType": "ECS",
        }
        if self.retry is not None:
            detail["retryStrategy"] = self.retry
        if self.timeout is not None:
            detail["timeout"] = self.timeout
        return detail


@dataclass(eq=False)
class _Attempt:
    number: int
    task_arn: str
    log_stream: str | None = None
    started_at: int | None = None
    stopped_at: int | None = None
    exit_code: int | None = None
    reason: str | None = None
    status_reason: str | None = None
    deadline: float | None = None
    timed_out: bool = False
    handle: ProcessHandle | None = None

    def container(self) -> JsonObject:
        container: JsonObject = {"taskArn": self.task_arn, "networkInterfaces": []}
        if self.exit_code is not None:
            container["exitCode"] = self.exit_code
        if self.reason is not None:
            container["reason"] = self.reason
        if self.log_stream is not None:
            container["logStreamName"] = self.log_stream
        return container

    def describe(self) -> JsonObject:
        detail: JsonObject = {"container": self.container()}
        if self.started_at is not None:
            detail["startedAt"] = self.started_at
        if self.stopped_at is not None:
            detail["stoppedAt"] = self.stopped_at
        if self.status_reason is not None:
            detail["statusReason"] = self.status_reason
        return detail


@dataclass(eq=False)
class _Job:
    seq: int
    job_id: str
    name: str
    arn: str
    queue_arn: str
    definition: _Definition
    created_at: int
    environment: dict[str, str]
    command: tuple[str, ...] | None
    timeout_seconds: int | None
    retry_attempts: int
    tags: dict[str, str]
    depends_on: list[JsonObject]
    array_size: int | None = None
    index: int | None = None
    parent: _Job | None = None
    children: list[_Job] = field(default_factory=list)
    prerequisites: list[_Job] = field(default_factory=list)
    status: JobStatus = JobStatus.SUBMITTED
    status_reason: str | None = None
    started_at: int | None = None
    stopped_at: int | None = None
    attempts: list[_Attempt] = field(default_factory=list)
    current: _Attempt | None = None
    waiting: int = 0
    dependents: list[_Job] = field(default_factory=list)
    unfinished_children: int = 0
    failed_children: int = 0
    final_reason: str | None = None
    terminate_reason: str | None = None
    is_cancelled: bool = False
    is_terminated: bool = False

    @property
    def last_attempt(self) -> _Attempt | None:
        if self.current is not None:
            return self.current
        return self.attempts[-1] if self.attempts else None

    def status_summary(self) -> dict[str, int]:
        summary = dict.fromkeys(BATCH_STATUSES, 0)
        for child in self.children:
            summary[child.status.value] += 1
        return summary

    def container(self) -> JsonObject:
        container: JsonObject = {
            "image": self.definition.image,
            "command": list(self.command or self.definition.command or ()),
            "environment": [{"name": k, "value": v} for k, v in self.environment.items()],
            "volumes": [],
            "mountPoints": [],
            "ulimits": [],
            "networkInterfaces": [],
        }
        for key in ("vcpus", "memory", "resourceRequirements", "jobRoleArn", "executionRoleArn"):
            if key in self.definition.container:
                container[key] = self.definition.container[key]
        attempt = self.last_attempt
        if attempt is not None:
            container.update(attempt.container())
        return container

    def describe(self) -> JsonObject:
        detail: JsonObject = {
            "jobArn": self.arn,
            "jobName": self.name,
            "jobId": self.job_id,
            "jobQueue": self.queue_arn,
            "status": self.status.value,
            "attempts": [attempt.describe() for attempt in self.attempts],
            "createdAt": self.created_at,
            "retryStrategy": {"attempts": self.retry_attempts},
            "dependsOn": [dict(dep) for dep in self.depends_on],
            "jobDefinition": self.definition.arn,
            "parameters": dict(self.definition.parameters),
            "container": self.container(),
            "tags": dict(self.tags),
            "propagateTags": self.definition.propagate_tags,
            "platformCapabilities": list(self.definition.platform_capabilities),
        }
        if self.status_reason is not None:
            detail["statusReason"] = self.status_reason
        if self.started_at is not None:
            detail["startedAt"] = self.started_at
        if self.stopped_at is not None:
            detail["stoppedAt"] = self.stopped_at
        if self.timeout_seconds is not None:
            detail["timeout"] = {"attemptDurationSeconds": self.timeout_seconds}
        if self.array_size is not None:
            detail["arrayProperties"] = {
                "statusSummary": self.status_summary(),
                "size": self.array_size,
            }
        elif self.index is not None:
            detail["arrayProperties"] = {"index": self.index}
        if self.is_cancelled:
            detail["isCancelled"] = True
        if self.is_terminated:
            detail["isTerminated"] = True
        return detail

    def summary(self) -> JsonObject:
        summary: JsonObject = {
            "jobArn": self.arn,
            "jobId": self.job_id,
            "jobName": self.name,
            "createdAt": self.created_at,
            "status": self.status.value,
            "jobDefinition": self.definition.arn,
        }
        if self.status_reason is not None:
            summary["statusReason"] = self.status_reason
        if self.started_at is not None:
            summary["startedAt"] = self.started_at
        if self.stopped_at is not None:
            summary["stoppedAt"] = self.stopped_at
        attempt = self.last_attempt
        if attempt is not None:
            container: JsonObject = {}
            if attempt.exit_code is not None:
                container["exitCode"] = attempt.exit_code
            if attempt.reason is not None:
                container["reason"] = attempt.reason
            summary["container"] = container
        if self.array_size is not None:
            summary["arrayProperties"] = {"size": self.array_size}
        elif self.index is not None:
            summary["arrayProperties"] = {"index": self.index}
        return summary


class BatchEngine:
    """An in-process AWS Batch with one job queue, running attempts through a `Launcher`."""

    def __init__(
        self,
        launcher: Launcher,
        logs: LogStore,
        *,
        queue: str,
        region: str,
        max_parallel: int,
        timeout_scale: float = 1.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        new_id: Callable[[], uuid.UUID] = uuid.uuid4,
    ) -> None:
        if max_parallel < 1:
            raise ValueError(f"max_parallel must be at least 1, got {max_parallel}")
        if timeout_scale <= 0:
            raise ValueError(f"timeout_scale must be positive, got {timeout_scale}")
        self._launcher = launcher
        self._logs = logs
        self.queue = queue
        self.region = region
        self.queue_arn = self._arn(f"job-queue/{queue}")
        self._max_parallel = max_parallel
        self._timeout_scale = timeout_scale
        self._clock = clock
        self._monotonic = monotonic
        self._new_id = new_id

        self._cond = threading.Condition()
        self._definitions: dict[str, list[_Definition]] = {}
        self._jobs: dict[str, _Job] = {}
        self._top_level: list[_Job] = []
        self._seq = 0
        self._submitted: deque[_Job] = deque()
        self._runnable: deque[_Job] = deque()
        self._running: set[_Job] = set()
        self._active = 0
        self._threads: set[threading.Thread] = set()
        self._closing = False
        self._scheduler: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the scheduler thread."""
        with self._cond:
            if self._scheduler is not None:
                return
            self._scheduler = threading.Thread(
                target=self._schedule, name="pcr-local-scheduler", daemon=True
            )
        self._scheduler.start()

    def close(self) -> None:
        """Kill running attempts, stop the scheduler and wait for every runner thread."""
        with self._cond:
            self._closing = True
            handles = [
                job.current.handle for job in self._running if job.current and job.current.handle
            ]
            scheduler = self._scheduler
            self._cond.notify_all()
        for handle in handles:
            handle.kill()
        if scheduler is not None:
            scheduler.join()
        while True:
            with self._cond:
                threads = list(self._threads)
            if not threads:
                break
            for thread in threads:
                thread.join()
                with self._cond:
                    self._threads.discard(thread)

    def operations(self) -> dict[str, Operation]:
        """The AWS Batch operations this engine answers, by operation name."""
        return {
            "RegisterJobDefinition": self.register_job_definition,
            "DeregisterJobDefinition": self.deregister_job_definition,
            "DescribeJobDefinitions": self.describe_job_definitions,
            "DescribeJobQueues": self.describe_job_queues,
            "SubmitJob": self.submit_job,
            "DescribeJobs": self.describe_jobs,
            "ListJobs": self.list_jobs,
            "CancelJob": self.cancel_job,
            "TerminateJob": self.terminate_job,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListTagsForResource": self.list_tags_for_resource,
        }

    # -- helpers -----------------------------------------------------------------------------

    def _arn(self, resource: str) -> str:
        return f"arn:aws:batch:{self.region}:{ACCOUNT_ID}:{resource}"

    def _now(self) -> int:
        return int(self._clock() * 1000)

    def _check_queue(self, value: str) -> None:
        if value not in (self.queue, self.queue_arn):
            raise client_exception(f"JobQueue {value} not found")

    def _definition(self, reference: str, *, active: bool) -> _Definition:
        """Resolve `name`, `name:revision` or an ARN (caller holds the lock)."""
        text = reference
        if text.startswith("arn:"):
            text = text.rsplit("job-definition/", 1)[-1]
        name, _, revision = text.partition(":")
        revisions = self._definitions.get(name, [])
        found: _Definition | None = None
        if revision:
            if revision.isdigit() and 1 <= int(revision) <= len(revisions):
                found = revisions[int(revision) - 1]
        else:
            candidates = [d for d in revisions if d.status == "ACTIVE"]
            found = candidates[-1] if candidates else None
        if found is None or (active and found.status != "ACTIVE"):
            raise client_exception(f"Job definition {reference} does not exist or is inactive")
        return found

    def _job(self, job_id: object) -> _Job | None:
        text = str(job_id)
        if text.startswith("arn:"):
            text = text.rsplit("job/", 1)[-1]
        return self._jobs.get(text)

    # -- job definitions ---------------------------------------------------------------------

    def register_job_definition(self, params: JsonObject) -> JsonObject:
        name = _check_name(params.get("jobDefinitionName"), "jobDefinitionName", _DEFINITION_NAME)
        kind = params.get("type")
        if kind != "container":
            raise client_exception(
                f"job definition type {kind!r} is not supported by the local backend "
                "(only 'container')"
            )
        container = params.get("containerProperties")
        if not isinstance(container, dict) or not container.get("image"):
            raise client_exception("containerProperties.image is required for a container job")
        timeout = params.get("timeout")
        if timeout is not None:
            self._check_timeout(timeout)
        retry = params.get("retryStrategy")
        if retry is not None:
            self._check_retry(retry)
        _environment(container.get("environment"), "containerProperties.environment")
        with self._cond:
            revisions = self._definitions.setdefault(name, [])
            revision = len(revisions) + 1
            definition = _Definition(
                name=name,
                revision=revision,
                arn=self._arn(f"job-definition/{name}:{revision}"),
                type=kind,
                container=dict(container),
                retry=dict(retry) if retry is not None else None,
                timeout=dict(timeout) if timeout is not None else None,
                parameters=dict(params.get("parameters") or {}),
                tags=dict(params.get("tags") or {}),
                propagate_tags=bool(params.get("propagateTags", False)),
                platform_capabilities=list(params.get("platformCapabilities") or ["EC2"]),
            )
            revisions.append(definition)
        return {"jobDefinitionName": name, "jobDefinitionArn": definition.arn, "revision": revision}

    def deregister_job_definition(self, params: JsonObject) -> JsonObject:
        reference = _required(params, "jobDefinition")
        with self._cond:
            self._definition(reference, active=False).status = "INACTIVE"
        return {}

    def describe_job_definitions(self, params: JsonObject) -> JsonObject:
        wanted_status = params.get("status")
        with self._cond:
            if params.get("jobDefinitions"):
                found: list[_Definition] = []
                for reference in params["jobDefinitions"]:
                    text = str(reference)
                    bare = text if text.startswith("arn:") or ":" in text else None
                    if bare is None:
                        found += self._definitions.get(text, [])
                    else:
                        try:
                            found.append(self._definition(text, active=False))
                        except ServiceError:
                            continue
            elif params.get("jobDefinitionName"):
                found = list(self._definitions.get(str(params["jobDefinitionName"]), []))
            else:
                found = [d for revisions in self._definitions.values() for d in revisions]
            selected = [d for d in found if wanted_status is None or d.status == wanted_status]
            start = _decode_token(params["nextToken"]) if params.get("nextToken") else 0
            limit = _max_results(params, DEFAULT_LIST_RESULTS)
            page = selected[start : start + limit]
            result: JsonObject = {"jobDefinitions": [d.describe() for d in page]}
        if start + limit < len(selected):
            result["nextToken"] = _encode_token(start + limit)
        return result

    def describe_job_queues(self, params: JsonObject) -> JsonObject:
        wanted = params.get("jobQueues")
        if wanted and not {self.queue, self.queue_arn} & {str(q) for q in wanted}:
            return {"jobQueues": []}
        return {
            "jobQueues": [
                {
                    "jobQueueName": self.queue,
                    "jobQueueArn": self.queue_arn,
                    "state": "ENABLED",
                    "status": "VALID",
                    "statusReason": "JobQueue Healthy",
                    "priority": 1,
                    "computeEnvironmentOrder": [
                        {
                            "order": 1,
                            "computeEnvironment": self._arn(f"compute-environment/{self.queue}"),
                        }
                    ],
                    "jobQueueType": "ECS",
                    "tags": {},
                }
            ]
        }

    @staticmethod
    def _check_timeout(timeout: object) -> int | None:
        if not isinstance(timeout, dict):
            raise client_exception("timeout must be an object")
        seconds = timeout.get("attemptDurationSeconds")
        if seconds is None:
            return None
        seconds = _int(seconds, "timeout.attemptDurationSeconds")
        if seconds < MIN_TIMEOUT_SECONDS:
            raise client_exception(
                f"timeout.attemptDurationSeconds must be at least {MIN_TIMEOUT_SECONDS}"
            )
        return seconds

    @staticmethod
    def _check_retry(retry: object) -> int:
        if not isinstance(retry, dict):
            raise client_exception("retryStrategy must be an object")
        attempts = _int(retry.get("attempts", 1), "retryStrategy.attempts")
        if not 1 <= attempts <= MAX_ATTEMPTS:
            raise client_exception(f"retryStrategy.attempts must be between 1 and {MAX_ATTEMPTS}")
        return attempts

    # -- jobs --------------------------------------------------------------------------------

    def submit_job(self, params: JsonObject) -> JsonObject:
        name = _check_name(params.get("jobName"), "jobName", _NAME)
        self._check_queue(_required(params, "jobQueue"))
        reference = _required(params, "jobDefinition")
        overrides = params.get("containerOverrides") or {}
        override_env = _environment(overrides.get("environment"), "containerOverrides.environment")
        reserved = sorted(key for key in override_env if key.startswith("AWS_BATCH"))
        if reserved:
            raise client_exception(
                f"environment variable names starting with AWS_BATCH are reserved: {reserved}"
            )
        command = overrides.get("command")
        depends_on = list(params.get("dependsOn") or [])
        if len(depends_on) > MAX_DEPENDENCIES:
            raise client_exception(
                f"a job can depend on at most {MAX_DEPENDENCIES} jobs, got {len(depends_on)}"
            )
        size: int | None = None
        array = params.get("arrayProperties") or {}
        if array.get("size") is not None:
            size = _int(array["size"], "arrayProperties.size")
            if not MIN_ARRAY_SIZE <= size <= MAX_ARRAY_SIZE:
                raise client_exception(
                    f"arrayProperties.size must be between {MIN_ARRAY_SIZE} and "
                    f"{MAX_ARRAY_SIZE}, got {size}"
                )
        with self._cond:
            definition = self._definition(reference, active=True)
            timeout_source = params.get("timeout") or definition.timeout
            timeout = self._check_timeout(timeout_source) if timeout_source else None
            retry_source = params.get("retryStrategy") or definition.retry
            attempts = self._check_retry(retry_source) if retry_source else 1
            whole, n_to_n, sequential = self._dependencies(depends_on, size)
            environment = _environment(
                definition.container.get("environment"), "containerProperties.environment"
            )
            environment.update(override_env)
            job_id = str(self._new_id())
            job = _Job(
                seq=self._next_seq(),
                job_id=job_id,
                name=name,
                arn=self._arn(f"job/{job_id}"),
                queue_arn=self.queue_arn,
                definition=definition,
                created_at=self._now(),
                environment=environment,
                command=tuple(str(part) for part in command) if command else None,
                timeout_seconds=timeout,
                retry_attempts=attempts,
                tags=dict(params.get("tags") or {}),
                depends_on=[dict(dep) for dep in depends_on],
                array_size=size,
            )
            self._jobs[job_id] = job
            self._top_level.append(job)
            self._submitted.append(job)
            if size is None:
                job.prerequisites = whole
            else:
                self._add_children(job, size, whole, n_to_n, sequential)
            self._cond.notify_all()
        logger.debug("submitted %s (%s)", job_id, name)
        return {"jobArn": job.arn, "jobName": name, "jobId": job_id}

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _dependencies(
        self, depends_on: list[JsonObject], size: int | None
    ) -> tuple[list[_Job], list[_Job], bool]:
        whole: list[_Job] = []
        n_to_n: list[_Job] = []
        sequential = False
        for dependency in depends_on:
            if not isinstance(dependency, dict):
                raise client_exception("dependsOn entries must be objects")
            kind = dependency.get("type")
            target_id = dependency.get("jobId")
            if target_id is None:
                if kind == "SEQUENTIAL" and size is not None:
                    sequential = True
                    continue
                raise client_exception("dependsOn: jobId is required")
            target = self._job(target_id)
            if target is None:
                raise client_exception(f"dependsOn: job {target_id} does not exist")
            if kind == "N_TO_N" and size is not None:
                if target.array_size != size:
                    raise client_exception(
                        f"dependsOn: an N_TO_N dependency needs an array job of size {size}; "
                        f"{target_id} has size {target.array_size}"
                    )
                n_to_n.append(target)
            elif target not in whole:
                whole.append(target)
        return whole, n_to_n, sequential

    def _add_children(
        self, parent: _Job, size: int, whole: list[_Job], n_to_n: list[_Job], sequential: bool
    ) -> None:
        for index in range(size):
            child_id = f"{parent.job_id}:{index}"
            prerequisites = list(whole) + [target.children[index] for target in n_to_n]
            shown = [
                dict(dep)
                for dep in parent.depends_on
                if dep.get("jobId") is not None and dep.get("type") != "N_TO_N"
            ]
            shown += [{"jobId": f"{t.job_id}:{index}", "type": "N_TO_N"} for t in n_to_n]
            if sequential and index > 0:
                prerequisites.append(parent.children[index - 1])
                shown.append({"jobId": f"{parent.job_id}:{index - 1}", "type": "SEQUENTIAL"})
            child = _Job(
                seq=self._next_seq(),
                job_id=child_id,
                name=parent.name,
                arn=self._arn(f"job/{child_id}"),
                queue_arn=parent.queue_arn,
                definition=parent.definition,
                created_at=parent.created_at,
                environment=parent.environment,
                command=parent.command,
                timeout_seconds=parent.timeout_seconds,
                retry_attempts=parent.retry_attempts,
                tags=parent.tags,
                depends_on=shown,
                index=index,
                parent=parent,
                prerequisites=prerequisites,
            )
            parent.children.append(child)
            self._jobs[child_id] = child
            self._submitted.append(child)
        parent.unfinished_children = size

    def describe_jobs(self, params: JsonObject) -> JsonObject:
        ids = params.get("jobs")
        if not isinstance(ids, list):
            raise client_exception("jobs is required")
        if len(ids) > MAX_DESCRIBE_JOBS:
            raise client_exception(
                f"jobs: at most {MAX_DESCRIBE_JOBS} job IDs per request, got {len(ids)}"
            )
        with self._cond:
            found = (self._job(job_id) for job_id in ids)
            return {"jobs": [job.describe() for job in found if job is not None]}

    def list_jobs(self, params: JsonObject) -> JsonObject:
        limit = _max_results(params, DEFAULT_LIST_RESULTS)
        after = _decode_token(params["nextToken"]) if params.get("nextToken") else 0
        filters = params.get("filters") or []
        matchers = [self._filter(entry) for entry in filters]
        status = params.get("jobStatus")
        if status is not None and status not in JobStatus.__members__:
            raise client_exception(f"jobStatus {status!r} is invalid")
        if not filters and status is None:
            status = JobStatus.RUNNING.value  # AWS lists RUNNING jobs when no status is given
        with self._cond:
            candidates: Iterable[_Job]
            if params.get("arrayJobId"):
                parent = self._job(params["arrayJobId"])
                candidates = parent.children if parent is not None else []
            elif params.get("jobQueue"):
                self._check_queue(str(params["jobQueue"]))
                candidates = self._top_level
            else:
                raise client_exception("jobQueue or arrayJobId is required")
            page: list[_Job] = []
            more = False
            for job in candidates:
                if job.seq <= after:
                    continue
                if not filters and job.status.value != status:
                    continue
                if not all(match(job) for match in matchers):
                    continue
                if len(page) == limit:
                    more = True
                    break
                page.append(job)
            result: JsonObject = {"jobSummaryList": [job.summary() for job in page]}
        if more:
            result["nextToken"] = _encode_token(page[-1].seq)
        return result

    @staticmethod
    def _filter(entry: object) -> Callable[[_Job], bool]:
        if not isinstance(entry, dict) or not isinstance(entry.get("values"), list):
            raise client_exception("filters: every filter needs a name and values")
        name = entry.get("name")
        values = [str(value) for value in entry["values"]]

        def matches(candidates: Iterable[str]) -> bool:
            texts = list(candidates)
            for value in values:
                if value.endswith("*"):
                    if any(text.startswith(value[:-1]) for text in texts):
                        return True
                elif value in texts:
                    return True
            return False

        if name == "JOB_NAME":
            return lambda job: matches([job.name])
        if name == "JOB_DEFINITION":
            return lambda job: matches(
                [
                    job.definition.name,
                    f"{job.definition.name}:{job.definition.revision}",
                    job.definition.arn,
                ]
            )
        if name in ("BEFORE_CREATED_AT", "AFTER_CREATED_AT"):
            try:
                bound = int(values[0])
            except (IndexError, ValueError) as err:
                raise client_exception(f"filters: {name} needs an epoch-millisecond value") from err
            if name == "BEFORE_CREATED_AT":
                return lambda job: job.created_at < bound
            return lambda job: job.created_at > bound
        raise client_exception(f"filters: unknown filter name {name!r}")

    def cancel_job(self, params: JsonObject) -> JsonObject:
        self._stop(params, terminate=False)
        return {}

    def terminate_job(self, params: JsonObject) -> JsonObject:
        self._stop(params, terminate=True)
        return {}

    def _stop(self, params: JsonObject, *, terminate: bool) -> None:
        job_id = _required(params, "jobId")
        reason = _required(params, "reason")
        kills: list[ProcessHandle] = []
        with self._cond:
            job = self._job(job_id)
            if job is None:
                raise client_exception(f"Job {job_id} not found")
            targets = job.children if job.array_size is not None else [job]
            if job.array_size is not None and job.status not in _FINISHED:
                job.final_reason = reason
                job.is_cancelled = job.is_cancelled or not terminate
                job.is_terminated = job.is_terminated or terminate
            for target in targets:
                if target.status in _CANCELLABLE:
                    target.is_cancelled = not terminate
                    target.is_terminated = terminate
                    self._finish(target, JobStatus.FAILED, reason)
                elif terminate and target.status in _STARTED:
                    target.is_terminated = True
                    target.terminate_reason = reason
                    attempt = target.current
                    if attempt is not None and attempt.handle is not None:
                        kills.append(attempt.handle)
            self._cond.notify_all()
        for handle in kills:
            handle.kill()

    # -- tags --------------------------------------------------------------------------------

    def _tags_of(self, arn: str) -> dict[str, str]:
        resource = arn.split(":", 5)[-1] if arn.startswith("arn:") else arn
        if resource.startswith("job/"):
            job = self._job(resource.removeprefix("job/"))
            if job is not None:
                return job.tags
        elif resource.startswith("job-definition/"):
            try:
                return self._definition(arn, active=False).tags
            except ServiceError:
                pass
        raise client_exception(f"resource {arn} not found")

    def tag_resource(self, params: JsonObject) -> JsonObject:
        with self._cond:
            self._tags_of(_required(params, "resourceArn")).update(params.get("tags") or {})
        return {}

    def untag_resource(self, params: JsonObject) -> JsonObject:
        with self._cond:
            tags = self._tags_of(_required(params, "resourceArn"))
            for key in params.get("tagKeys") or []:
                tags.pop(key, None)
        return {}

    def list_tags_for_resource(self, params: JsonObject) -> JsonObject:
        with self._cond:
            return {"tags": dict(self._tags_of(_required(params, "resourceArn")))}

    # -- state machine (caller holds the lock) ----------------------------------------------

    def _finish(self, job: _Job, status: JobStatus, reason: str | None) -> None:
        """Move `job` to a final status and let its dependents and its array parent follow."""
        work: list[tuple[_Job, JobStatus, str | None]] = [(job, status, reason)]
        now = self._now()
        while work:
            current, final, why = work.pop()
            if current.status in _FINISHED:
                continue
            current.status = final
            current.status_reason = why
            current.stopped_at = now
            for dependent in current.dependents:
                if dependent.status in _FINISHED:
                    continue
                if final is JobStatus.SUCCEEDED:
                    dependent.waiting -= 1
                    if dependent.waiting == 0 and dependent.status is JobStatus.PENDING:
                        self._make_runnable(dependent)
                else:
                    work.append((dependent, JobStatus.FAILED, DEPENDENCY_FAILED))
            current.dependents.clear()
            parent = current.parent
            if parent is not None:
                parent.unfinished_children -= 1
                if final is JobStatus.FAILED:
                    parent.failed_children += 1
                if parent.unfinished_children == 0:
                    failed = parent.failed_children > 0
                    work.append(
                        (
                            parent,
                            JobStatus.FAILED if failed else JobStatus.SUCCEEDED,
                            parent.final_reason if failed else None,
                        )
                    )
        self._cond.notify_all()

    def _make_runnable(self, job: _Job) -> None:
        job.status = JobStatus.RUNNABLE
        self._runnable.append(job)
        parent = job.parent
        if parent is not None and parent.status is JobStatus.SUBMITTED:
            parent.status = JobStatus.PENDING

    def _promote(self, job: _Job) -> None:
        """SUBMITTED -> PENDING, then RUNNABLE once every dependency succeeded."""
        if job.status is not JobStatus.SUBMITTED:
            return
        if job.array_size is not None:
            return  # the parent follows its children
        job.status = JobStatus.PENDING
        if job.parent is not None and job.parent.status is JobStatus.SUBMITTED:
            job.parent.status = JobStatus.PENDING
        for prerequisite in job.prerequisites:
            if prerequisite.status is JobStatus.SUCCEEDED:
                continue
            if prerequisite.status is JobStatus.FAILED:
                self._finish(job, JobStatus.FAILED, DEPENDENCY_FAILED)
                return
            job.waiting += 1
            prerequisite.dependents.append(job)
        if job.waiting == 0:
            self._make_runnable(job)

    def _claim(self) -> list[tuple[_Job, _Attempt]]:
        """RUNNABLE -> STARTING for as many jobs as there are free slots."""
        claimed: list[tuple[_Job, _Attempt]] = []
        while self._active < self._max_parallel and self._runnable:
            job = self._runnable.popleft()
            if job.status is not JobStatus.RUNNABLE:
                continue  # cancelled while queued
            job.status = JobStatus.STARTING
            attempt = _Attempt(
                number=len(job.attempts) + 1,
                task_arn=f"arn:aws:ecs:{self.region}:{ACCOUNT_ID}:task/{self.queue}/"
                f"{self._new_id().hex}",
            )
            job.current = attempt
            self._active += 1
            claimed.append((job, attempt))
        return claimed

    def _expired(self) -> tuple[list[ProcessHandle], float | None]:
        """Attempts past their deadline (marked timed out) and seconds to the next deadline."""
        now = self._monotonic()
        kills: list[ProcessHandle] = []
        nearest: float | None = None
        for job in self._running:
            attempt = job.current
            if attempt is None or attempt.deadline is None or attempt.timed_out:
                continue
            if attempt.deadline <= now:
                attempt.timed_out = True
                if attempt.handle is not None:
                    kills.append(attempt.handle)
            elif nearest is None or attempt.deadline < nearest:
                nearest = attempt.deadline
        return kills, None if nearest is None else max(0.0, nearest - now)

    def _schedule(self) -> None:
        while True:
            with self._cond:
                if self._closing:
                    return
                while self._submitted:
                    self._promote(self._submitted.popleft())
                claimed = self._claim()
                kills, wait = self._expired()
                if not claimed and not kills:
                    self._cond.wait(wait)
                    continue
                threads = []
                for job, attempt in claimed:
                    thread = threading.Thread(
                        target=self._run_attempt,
                        args=(job, attempt),
                        name=f"pcr-local-{job.job_id}#{attempt.number}",
                        daemon=True,
                    )
                    self._threads.add(thread)
                    threads.append(thread)
            for handle in kills:
                handle.kill()
            for thread in threads:
                thread.start()

    # -- attempts (runner threads) ----------------------------------------------------------

    def _container_run(self, job: _Job, attempt: _Attempt) -> ContainerRun:
        environment = dict(job.environment)
        environment.update(
            {
                "AWS_BATCH_JOB_ID": job.job_id,
                "AWS_BATCH_JOB_ATTEMPT": str(attempt.number),
                "AWS_BATCH_JQ_NAME": self.queue,
                "AWS_BATCH_CE_NAME": self.queue,
            }
        )
        if job.index is not None:
            environment["AWS_BATCH_JOB_ARRAY_INDEX"] = str(job.index)
        return ContainerRun(
            job_id=job.job_id,
            attempt=attempt.number,
            image=job.definition.image,
            command=job.command,
            definition_command=job.definition.command,
            environment=environment,
        )

    def _run_attempt(self, job: _Job, attempt: _Attempt) -> None:
        try:
            self._run(job, attempt)
        except Exception as err:  # a bug here must not leave the job RUNNING forever
            logger.exception("local engine: attempt %d of job %s broke", attempt.number, job.job_id)
            with self._cond:
                if job.current is attempt:
                    self._end_attempt(job, attempt, None, f"InternalError: {err}", START_FAILED)
        finally:
            with self._cond:
                self._threads.discard(threading.current_thread())

    def _run(self, job: _Job, attempt: _Attempt) -> None:
        with self._cond:
            run = self._container_run(job, attempt)
            stream = f"{job.definition.name}/default/{self._new_id().hex}"
            stopped = job.terminate_reason is not None or self._closing
            if stopped:
                self._end_attempt(job, attempt, None, None, START_FAILED)
                return
        self._logs.create_stream(stream)
        try:
            handle = self._launcher.start(run, lambda line: self._logs.append(stream, line))
        except LaunchError as err:
            logger.warning("job %s attempt %d did not start: %s", job.job_id, attempt.number, err)
            self._logs.append(stream, f"CannotStartContainerError: {err}")
            with self._cond:
                attempt.log_stream = stream
                self._end_attempt(
                    job, attempt, None, f"CannotStartContainerError: {err}", START_FAILED
                )
            return
        with self._cond:
            now = self._now()
            attempt.handle = handle
            attempt.log_stream = stream
            attempt.started_at = now
            job.started_at = now
            job.status = JobStatus.RUNNING
            if job.timeout_seconds is not None:
                attempt.deadline = self._monotonic() + job.timeout_seconds * self._timeout_scale
            self._running.add(job)
            kill_now = job.terminate_reason is not None or self._closing
            self._cond.notify_all()
        if kill_now:
            handle.kill()
        exit_code = handle.wait()
        with self._cond:
            self._end_attempt(job, attempt, exit_code, None, CONTAINER_EXITED)

    def _end_attempt(
        self,
        job: _Job,
        attempt: _Attempt,
        exit_code: int | None,
        reason: str | None,
        status_reason: str,
    ) -> None:
        """Record a finished attempt; retry it, or finish the job (caller holds the lock)."""
        attempt.stopped_at = self._now()
        attempt.handle = None
        if attempt.timed_out:
            exit_code, status_reason = None, TIMED_OUT
        elif job.terminate_reason is not None and exit_code != 0:
            status_reason = job.terminate_reason
        attempt.exit_code = exit_code
        attempt.reason = reason
        attempt.status_reason = status_reason
        job.attempts.append(attempt)
        job.current = None
        self._running.discard(job)
        self._active -= 1
        if exit_code == 0:
            self._finish(job, JobStatus.SUCCEEDED, CONTAINER_EXITED)
        elif job.terminate_reason is not None:
            self._finish(job, JobStatus.FAILED, job.terminate_reason)
        elif self._closing:
            self._finish(job, JobStatus.FAILED, SHUT_DOWN)
        elif len(job.attempts) < job.retry_attempts:
            logger.info(
                "job %s attempt %d failed (%s); retrying", job.job_id, attempt.number, status_reason
            )
            job.status = JobStatus.RUNNABLE
            self._runnable.append(job)
        else:
            self._finish(job, JobStatus.FAILED, status_reason)
        self._cond.notify_all()
