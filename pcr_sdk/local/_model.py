"""Job definitions, jobs and attempts of the local AWS Batch, and how AWS Batch shows them.

`describe()` and `summary()` return DescribeJobs / DescribeJobDefinitions / ListJobs shapes as
botocore's service model has them. Only AWS Batch's seven statuses ever appear.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from pcr_sdk._private.wire import facts
from pcr_sdk._private.wire.facts import JobStatus
from pcr_sdk.local._capacity import Resources
from pcr_sdk.local._process import ProcessHandle
from pcr_sdk.local._retry import RetryStrategy
from pcr_sdk.local._wire import JsonObject

FINISHED: frozenset[JobStatus] = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED})
STARTED: frozenset[JobStatus] = frozenset({JobStatus.STARTING, JobStatus.RUNNING})


class Stop(str, enum.Enum):
    """Why the engine ends a running attempt."""

    TIMEOUT = "timeout"
    TERMINATE = "terminate"
    RECLAIM = "reclaim"


@dataclass(eq=False)
class Definition:
    """One revision of a job definition."""

    seq: int
    """Registration order, the immutable key DescribeJobDefinitions pages by."""
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
    def fargate(self) -> bool:
        """Its jobs run on Fargate (`platformCapabilities`), not on EC2."""
        return "FARGATE" in self.platform_capabilities

    def command(self, parameters: dict[str, str]) -> tuple[str, ...] | None:
        """The definition's command, each `Ref::name` argument replaced by its parameter."""
        command = self.container.get("command")
        if not command:
            return None
        prefix = facts.PARAMETER_REFERENCE_PREFIX
        return tuple(
            parameters.get(part[len(prefix) :], part) if part.startswith(prefix) else part
            for part in (str(part) for part in command)
        )

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
class Attempt:
    """One attempt of a job: claimed (STARTING), then running a process until it ends."""

    number: int
    task_arn: str
    log_stream: str | None = None
    started_at: int | None = None
    stopped_at: int | None = None
    exit_code: int | None = None
    reason: str | None = None
    status_reason: str | None = None
    deadline: float | None = None
    """Monotonic time its timeout fires (`attemptDurationSeconds` times `timeout_scale`)."""
    stop: Stop | None = None
    """Why the engine is ending it; set once, when it sends SIGTERM."""
    kill_at: float | None = None
    """Monotonic time the grace period after SIGTERM ends and SIGKILL follows."""
    killed: bool = False
    handle: ProcessHandle | None = None
    host_reason: str | None = None

    @property
    def task_id(self) -> str:
        """The ECS task's id: the last part of `task_arn`, and of the log stream's name."""
        return self.task_arn.rsplit("/", 1)[-1]

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
class Job:
    """A submitted job: a plain job, an array parent, or an array child."""

    seq: int
    """Submission order (children right after their parent): ListJobs pages by it."""
    job_id: str
    name: str
    arn: str
    queue_arn: str
    definition: Definition
    created_at: int
    environment: dict[str, str]
    command: tuple[str, ...] | None
    """`containerOverrides.command`, if submitted."""
    definition_command: tuple[str, ...] | None
    """The definition's command after `Ref::` substitution."""
    parameters: dict[str, str]
    timeout_seconds: int | None
    retry: RetryStrategy
    resources: Resources
    container_resources: JsonObject
    """The resource keys DescribeJobs shows in `container` (definition merged with overrides)."""
    tags: dict[str, str]
    depends_on: list[JsonObject]
    propagate_tags: bool = False
    """SubmitJob's `propagateTags`, else the definition's."""
    array_size: int | None = None
    index: int | None = None
    parent: Job | None = None
    children: list[Job] = field(default_factory=list)
    prerequisites: list[Job] = field(default_factory=list)
    """The jobs it waits for; an array parent's: those each child waits for as a whole."""
    n_to_n: list[Job] = field(default_factory=list)
    """An array parent's N_TO_N dependencies (child i waits for their child i)."""
    sequential: bool = False
    """An array parent's SEQUENTIAL dependency (child i waits for child i - 1)."""
    status: JobStatus = JobStatus.SUBMITTED
    status_reason: str | None = None
    started_at: int | None = None
    stopped_at: int | None = None
    attempts: list[Attempt] = field(default_factory=list)
    current: Attempt | None = None
    waiting: int = 0
    dependents: list[Job] = field(default_factory=list)
    unfinished_children: int = 0
    failed_children: int = 0
    final_reason: str | None = None
    terminate_reason: str | None = None
    cancel_reason: str | None = None
    """A cancel accepted while PENDING: applied once its dependencies are done."""
    is_cancelled: bool = False
    is_terminated: bool = False
    blocked: bool = False
    """Logged once as never fitting the local compute environment."""

    @property
    def last_attempt(self) -> Attempt | None:
        if self.current is not None:
            return self.current
        return self.attempts[-1] if self.attempts else None

    @property
    def size_of_array(self) -> int | None:
        """The array size for a parent and for each of its children."""
        return self.parent.array_size if self.parent is not None else self.array_size

    def status_summary(self) -> dict[str, int]:
        summary = dict.fromkeys(facts.BATCH_STATUSES, 0)
        for child in self.children:
            summary[child.status.value] += 1
        return summary

    def container(self) -> JsonObject:
        container: JsonObject = {
            "image": self.definition.image,
            "command": list(self.command or self.definition_command or ()),
            "environment": [{"name": k, "value": v} for k, v in self.environment.items()],
            "volumes": [],
            "mountPoints": [],
            "ulimits": [],
            "networkInterfaces": [],
            **self.container_resources,
        }
        for key in ("jobRoleArn", "executionRoleArn"):
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
            "retryStrategy": self.retry.describe(),
            "dependsOn": [dict(dep) for dep in self.depends_on],
            "jobDefinition": self.definition.arn,
            "parameters": dict(self.parameters),
            "container": self.container(),
            "tags": dict(self.tags),
            "propagateTags": self.propagate_tags,
            "platformCapabilities": list(self.definition.platform_capabilities),
        }
        for key, value in (
            ("statusReason", self.status_reason),
            ("startedAt", self.started_at),
            ("stoppedAt", self.stopped_at),
        ):
            if value is not None:
                detail[key] = value
        if self.timeout_seconds is not None:
            detail["timeout"] = {"attemptDurationSeconds": self.timeout_seconds}
        if self.array_size is not None:
            detail["arrayProperties"] = {
                "statusSummary": self.status_summary(),
                "size": self.array_size,
            }
        elif self.index is not None:
            detail["arrayProperties"] = {"index": self.index}
        # DescribeJobs shows both flags on every finished job, and a true one at any time.
        if self.status in FINISHED or self.is_cancelled:
            detail["isCancelled"] = self.is_cancelled
        if self.status in FINISHED or self.is_terminated:
            detail["isTerminated"] = self.is_terminated
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
        for key, value in (
            ("statusReason", self.status_reason),
            ("startedAt", self.started_at),
            ("stoppedAt", self.stopped_at),
        ):
            if value is not None:
                summary[key] = value
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
        # ListJobs' summaries carry the flags only when true.
        if self.is_cancelled:
            summary["isCancelled"] = True
        if self.is_terminated:
            summary["isTerminated"] = True
        return summary


def container_resources(definition: JsonObject, overrides: JsonObject) -> JsonObject:
    """The definition's vcpus/memory/resourceRequirements with the submission's overrides."""
    shown: JsonObject = {
        key: definition[key]
        for key in ("vcpus", "memory", "resourceRequirements")
        if key in definition
    }
    for key in ("vcpus", "memory"):
        if overrides.get(key) is not None:
            shown[key] = overrides[key]
    overridden = overrides.get("resourceRequirements")
    if overridden:
        merged = {entry["type"]: entry for entry in shown.get("resourceRequirements", [])}
        merged.update({entry["type"]: entry for entry in overridden})
        shown["resourceRequirements"] = list(merged.values())
    return shown


def add_array_children(
    parent: Job,
    whole: list[Job],
    n_to_n: list[Job],
    *,
    sequential: bool,
    next_seq: Callable[[], int],
    arn: Callable[[str], str],
) -> None:
    """Give an array parent its children `<id>:<i>` and their dependencies, as AWS does.

    Each child waits for the jobs the parent depends on (`whole`), for child `i` of each N_TO_N
    array, and (SEQUENTIAL) for child `i - 1`; DescribeJobs shows those as its `dependsOn`.
    """
    parent.prerequisites = list(whole)
    parent.n_to_n = list(n_to_n)
    parent.sequential = sequential
    shared = [
        dict(dep)
        for dep in parent.depends_on
        if dep.get("jobId") is not None and dep.get("type") != "N_TO_N"
    ]
    for index in range(parent.array_size or 0):
        child_id = f"{parent.job_id}:{index}"
        prerequisites = list(whole) + [target.children[index] for target in n_to_n]
        shown = shared + [{"jobId": f"{t.job_id}:{index}", "type": "N_TO_N"} for t in n_to_n]
        if sequential and index > 0:
            prerequisites.append(parent.children[index - 1])
            shown.append({"jobId": f"{parent.job_id}:{index - 1}", "type": "SEQUENTIAL"})
        parent.children.append(
            Job(
                seq=next_seq(),
                job_id=child_id,
                name=parent.name,
                arn=arn(f"job/{child_id}"),
                queue_arn=parent.queue_arn,
                definition=parent.definition,
                created_at=parent.created_at,
                environment=parent.environment,
                command=parent.command,
                definition_command=parent.definition_command,
                parameters=parent.parameters,
                timeout_seconds=parent.timeout_seconds,
                retry=parent.retry,
                resources=parent.resources,
                container_resources=parent.container_resources,
                tags=parent.tags,
                propagate_tags=parent.propagate_tags,
                depends_on=shown,
                index=index,
                parent=parent,
                prerequisites=prerequisites,
            )
        )
