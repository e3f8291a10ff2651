"""The local AWS Batch's API: one handler per operation, over a scheduler's state.

Each handler takes the decoded request and returns the response body shaped like botocore's
service model; a request AWS Batch rejects raises `ServiceError` (a ClientException). Request
checks live in `_checks` and `_retry`, the job model in `_model`, paging in `_listing`, and
everything that changes a job's status in `_scheduler` (`JobStates`). The scheduler is the
real-time `Scheduler` for `LocalBackend`, or the `_stepping` one for `pcr_sdk.testing`.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable
from typing import Final

from pcr_sdk._private.wire import facts
from pcr_sdk.local import _checks as check
from pcr_sdk.local import _listing
from pcr_sdk.local import _refusals as refusal
from pcr_sdk.local._capacity import Resources
from pcr_sdk.local._journal import JobJournal, KeptEngine
from pcr_sdk.local._logs import LogStore
from pcr_sdk.local._model import (
    STARTED,
    Attempt,
    Definition,
    Job,
    add_array_children,
    container_resources,
)
from pcr_sdk.local._process import Launcher
from pcr_sdk.local._refusals import ServiceError
from pcr_sdk.local._retry import RetryStrategy, parse_retry_strategy
from pcr_sdk.local._scheduler import ACCOUNT_ID, JobStates, Scheduler
from pcr_sdk.local._wire import JsonObject, Operation

logger = logging.getLogger(__name__)

__all__ = ["ACCOUNT_ID", "BatchEngine"]

_NO_RETRY: Final = RetryStrategy()

QueueResolver = Callable[[str], str | None]
"""Another job queue's name or ARN -> its ARN, or None when no such queue exists."""


class BatchEngine:
    """An in-process AWS Batch with one job queue on one local compute environment."""

    def __init__(
        self,
        launcher: Launcher,
        logs: LogStore,
        *,
        queue: str,
        region: str,
        capacity: Resources,
        max_parallel: int | None = None,
        timeout_scale: float = 1.0,
        grace_seconds: float = facts.TERMINATION_GRACE_SECONDS,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        new_id: Callable[[], uuid.UUID] = uuid.uuid4,
    ) -> None:
        scheduler = Scheduler(
            launcher,
            logs,
            queue=queue,
            region=region,
            capacity=capacity,
            max_parallel=max_parallel,
            timeout_scale=timeout_scale,
            grace_seconds=grace_seconds,
            clock=clock,
            monotonic=monotonic,
            new_id=new_id,
        )
        self._attach(scheduler, None)

    @classmethod
    def over(cls, scheduler: JobStates, *, queues: QueueResolver | None = None) -> BatchEngine:
        """An engine answering over `scheduler` (the stepping one of `pcr_sdk.testing`).

        Besides the scheduler's own queue it accepts every queue `queues` knows.
        """
        engine = cls.__new__(cls)
        engine._attach(scheduler, queues)
        return engine

    def _attach(self, scheduler: JobStates, queues: QueueResolver | None) -> None:
        self.queue = scheduler.queue
        self.region = scheduler.region
        self.queue_arn = self._arn(f"job-queue/{self.queue}")
        self._scheduler = scheduler
        self._queues = queues
        self._cond = scheduler.cond
        self._definitions: dict[str, list[Definition]] = {}

    def start(self) -> None:
        """Start the scheduler thread."""
        self._scheduler.start()

    def close(self) -> None:
        """SIGKILL running attempts, stop the scheduler and wait for every runner thread."""
        self._scheduler.close()

    def operations(self) -> dict[str, Operation]:
        """The AWS Batch operations this engine answers, by operation name."""
        return {
            "RegisterJobDefinition": self.register_job_definition,
            "DeregisterJobDefinition": self.deregister_job_definition,
            "DescribeJobDefinitions": self.describe_job_definitions,
            "DescribeJobQueues": self.describe_job_queues,
            "DescribeComputeEnvironments": self.describe_compute_environments,
            "SubmitJob": self.submit_job,
            "DescribeJobs": self.describe_jobs,
            "ListJobs": self.list_jobs,
            "CancelJob": self.cancel_job,
            "TerminateJob": self.terminate_job,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListTagsForResource": self.list_tags_for_resource,
        }

    def restore(self, kept: KeptEngine, *, cut_off: Callable[[Job, Attempt], int]) -> None:
        """Take over a kept account's definitions and jobs, before `start` (`JobStates.restore`
        says what becomes of unfinished jobs)."""
        with self._cond:
            self._definitions = kept.definitions
            self._scheduler.restore(kept.jobs, cut_off=cut_off)

    def keep(self, journal: JobJournal) -> None:
        """Tell `journal` of every change from now on."""
        with self._cond:
            self._scheduler.journal = journal

    def reclaim_host(self, job_id: str) -> str:
        """End a running attempt as a Spot reclaim does (no exit code); its statusReason."""
        with self._cond:
            job = self._job(job_id)
            if job is None:
                raise KeyError(f"job {job_id} not found")
            return self._scheduler.reclaim(job)

    # -- helpers (callers hold the lock where they read state) ---------------------------------

    def _arn(self, resource: str) -> str:
        return f"arn:aws:batch:{self.region}:{ACCOUNT_ID}:{resource}"

    def _check_queue(self, value: str) -> str:
        """The ARN of job queue `value` (a name or an ARN)."""
        if value in (self.queue, self.queue_arn):
            return self.queue_arn
        found = self._queues(value) if self._queues is not None else None
        if found is None:
            raise refusal.QUEUE_NOT_FOUND.refuse(queue=value)
        return found

    def _definition(self, reference: str, *, active: bool) -> Definition:
        """Resolve `name`, `name:revision` or an ARN (latest ACTIVE revision without one)."""
        text = (
            reference.rsplit("job-definition/", 1)[-1]
            if reference.startswith("arn:")
            else (reference)
        )
        name, _, revision = text.partition(":")
        revisions = self._definitions.get(name, [])
        found: Definition | None = None
        if revision:
            if revision.isdigit() and 1 <= int(revision) <= len(revisions):
                found = revisions[int(revision) - 1]
        else:
            candidates = [d for d in revisions if d.status == "ACTIVE"]
            found = candidates[-1] if candidates else None
        if found is None or (active and found.status != "ACTIVE"):
            raise refusal.DEFINITION_NOT_FOUND.refuse(reference=reference)
        return found

    def _job(self, job_id: object) -> Job | None:
        text = str(job_id)
        if text.startswith("arn:"):
            text = text.rsplit("job/", 1)[-1]
        return self._scheduler.jobs.get(text)

    # -- job definitions and queues ---------------------------------------------------------

    def register_job_definition(self, params: JsonObject) -> JsonObject:
        check.payload(params, facts.MAX_JOB_DEFINITION_BYTES, refusal.DEFINITION_SIZE)
        name = check.name(
            params.get("jobDefinitionName"), "jobDefinitionName", check.DEFINITION_NAME
        )
        kind = params.get("type")
        if kind != "container":
            raise refusal.DEFINITION_TYPE.refuse(kind=kind)
        container = params.get("containerProperties")
        if not isinstance(container, dict) or not container.get("image"):
            raise refusal.REQUIRED.refuse(member="containerProperties.image")
        check.image(container["image"])
        platforms = list(params.get("platformCapabilities") or ["EC2"])
        check.definition_container(container, fargate="FARGATE" in platforms)
        timeout = params.get("timeout")
        if timeout is not None:
            check.timeout_seconds(timeout)
        retry = params.get("retryStrategy")
        if retry is not None:
            retry = parse_retry_strategy(retry).describe()  # as AWS answers it
        check.environment(container.get("environment"), "containerProperties.environment")
        check.job_resources(container, {})
        parameters = check.parameters(params.get("parameters"), "parameters")
        tags = check.tags(params.get("tags"))
        with self._cond:
            revisions = self._definitions.setdefault(name, [])
            revision = len(revisions) + 1
            definition = Definition(
                seq=self._scheduler.next_seq(),
                name=name,
                revision=revision,
                arn=self._arn(f"job-definition/{name}:{revision}"),
                type=kind,
                container=dict(container),
                retry=retry,
                timeout=dict(timeout) if timeout is not None else None,
                parameters=parameters,
                tags=tags,
                propagate_tags=bool(params.get("propagateTags", False)),
                platform_capabilities=platforms,
            )
            revisions.append(definition)
            self._scheduler.journal.definition_changed(definition)
        return {"jobDefinitionName": name, "jobDefinitionArn": definition.arn, "revision": revision}

    def deregister_job_definition(self, params: JsonObject) -> JsonObject:
        reference = check.required(params, "jobDefinition")
        with self._cond:
            definition = self._definition(reference, active=False)
            definition.status = "INACTIVE"
            self._scheduler.journal.definition_changed(definition)
        return {}

    def describe_job_definitions(self, params: JsonObject) -> JsonObject:
        with self._cond:
            return _listing.describe_job_definitions(params, self._definitions)

    def describe_job_queues(self, params: JsonObject) -> JsonObject:
        wanted = params.get("jobQueues")
        if wanted and not {self.queue, self.queue_arn} & {str(q) for q in wanted}:
            return {"jobQueues": []}
        order = [{"order": 1, "computeEnvironment": self._environment_arn()}]
        return {
            "jobQueues": [
                {
                    "jobQueueName": self.queue,
                    "jobQueueArn": self.queue_arn,
                    "state": "ENABLED",
                    "status": "VALID",
                    "statusReason": "JobQueue Healthy",
                    "priority": 1,
                    "computeEnvironmentOrder": order,
                    "jobQueueType": "ECS",
                    "tags": {},
                }
            ]
        }

    def _environment_arn(self) -> str:
        return self._arn(f"compute-environment/{self.queue}")

    def describe_compute_environments(self, params: JsonObject) -> JsonObject:
        """The one compute environment, behind the queue and named after it (read-only).

        Its `maxvCpus` is the local capacity's vCPUs (rounded up), `desiredvCpus` what the
        jobs that are STARTING or RUNNING ask for.
        """
        check.max_results(params, cap=facts.DESCRIBE_COMPUTE_ENVIRONMENTS_MAX_RESULTS, clamp=False)
        token = params.get("nextToken")
        if token is not None:  # one environment fits any page: no token was ever handed out
            check.decode_token("environments", token)
            return {"computeEnvironments": []}
        arn = self._environment_arn()
        wanted = params.get("computeEnvironments")
        if wanted and not {self.queue, arn} & {str(name) for name in wanted}:
            return {"computeEnvironments": []}
        scheduler = self._scheduler
        with self._cond:
            busy = sum(
                job.resources.vcpus for job in scheduler.jobs.values() if job.status in STARTED
            )
        environment: JsonObject = {
            "computeEnvironmentName": self.queue,
            "computeEnvironmentArn": arn,
            "ecsClusterArn": f"arn:aws:ecs:{self.region}:{ACCOUNT_ID}:cluster/{self.queue}",
            "tags": {},
            "type": "MANAGED",
            "state": "ENABLED",
            "status": "VALID",
            "statusReason": "ComputeEnvironment Healthy",
            "computeResources": {
                "type": "EC2",
                "minvCpus": 0,
                "maxvCpus": math.ceil(scheduler.capacity.vcpus),
                "desiredvCpus": math.ceil(busy),
                "subnets": [],
                "securityGroupIds": [],
            },
            "containerOrchestrationType": "ECS",
            "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, arn)),
        }
        return {"computeEnvironments": [environment]}

    # -- jobs --------------------------------------------------------------------------------

    def submit_job(self, params: JsonObject) -> JsonObject:
        check.payload(params, facts.MAX_SUBMIT_PAYLOAD_BYTES, refusal.SUBMIT_JOB_SIZE)
        name = check.name(params.get("jobName"), "jobName", check.JOB_NAME)
        queue_arn = self._check_queue(check.required(params, "jobQueue"))
        reference = check.required(params, "jobDefinition")
        overrides = params.get("containerOverrides") or {}
        if not isinstance(overrides, dict):
            raise refusal.WRONG_TYPE.refuse(member="containerOverrides", kind="an object")
        override_env = check.environment(
            overrides.get("environment"), "containerOverrides.environment"
        )
        command = overrides.get("command")
        if command is not None and (
            not isinstance(command, list) or not all(isinstance(p, str) and p for p in command)
        ):
            raise refusal.WRONG_TYPE.refuse(
                member="containerOverrides.command", kind="non-empty strings"
            )
        depends_on = list(params.get("dependsOn") or [])
        if len(depends_on) > facts.MAX_DEPENDENCIES:
            raise refusal.DEPENDENCIES.refuse(count=len(depends_on))
        size: int | None = None
        array = params.get("arrayProperties") or {}
        if array.get("size") is not None:
            size = check.integer(array["size"], "arrayProperties.size")
            if not facts.MIN_ARRAY_SIZE <= size <= facts.MAX_ARRAY_SIZE:
                raise refusal.ARRAY_SIZE.refuse(size=size)
        submitted_parameters = check.parameters(params.get("parameters"), "parameters")
        tags = check.tags(params.get("tags"))
        retry_request = params.get("retryStrategy")
        retry = parse_retry_strategy(retry_request) if retry_request is not None else None
        timeout_request = params.get("timeout")
        timeout = check.timeout_seconds(timeout_request) if timeout_request else None
        propagate = params.get("propagateTags")
        with self._cond:
            definition = self._definition(reference, active=True)
            if timeout is None and definition.timeout:
                timeout = check.timeout_seconds(definition.timeout)
            if retry is None:
                retry = parse_retry_strategy(definition.retry) if definition.retry else _NO_RETRY
            if definition.fargate:
                check.fargate_overrides(definition.container, overrides)
            resources = check.job_resources(definition.container, overrides)
            whole, n_to_n, sequential = self._dependencies(depends_on, size)
            environment = check.environment(
                definition.container.get("environment"), "containerProperties.environment"
            )
            environment.update(override_env)
            parameters = {**definition.parameters, **submitted_parameters}
            job_id = str(uuid.UUID(hex=self._scheduler.new_hex()))
            job = Job(
                seq=self._scheduler.next_seq(),
                job_id=job_id,
                name=name,
                arn=self._arn(f"job/{job_id}"),
                queue_arn=queue_arn,
                definition=definition,
                created_at=self._scheduler.now_ms(),
                environment=environment,
                command=tuple(command) if command else None,
                definition_command=definition.command(parameters),
                parameters=parameters,
                timeout_seconds=timeout,
                retry=retry,
                resources=resources,
                container_resources=container_resources(definition.container, overrides),
                tags=tags,
                propagate_tags=(
                    definition.propagate_tags if propagate is None else bool(propagate)
                ),
                depends_on=[dict(dep) for dep in depends_on],
                array_size=size,
            )
            if size is None:
                job.prerequisites = whole
            else:
                add_array_children(
                    job,
                    whole,
                    n_to_n,
                    sequential=sequential,
                    next_seq=self._scheduler.next_seq,
                    arn=self._arn,
                )
            self._scheduler.submit(job)
        logger.debug("submitted %s (%s)", job_id, name)
        return {"jobArn": job.arn, "jobName": name, "jobId": job_id}

    def _dependencies(
        self, depends_on: list[JsonObject], size: int | None
    ) -> tuple[list[Job], list[Job], bool]:
        whole: list[Job] = []
        n_to_n: list[Job] = []
        sequential = False
        for dependency in depends_on:
            if not isinstance(dependency, dict):
                raise refusal.WRONG_TYPE.refuse(member="dependsOn entries", kind="objects")
            kind = dependency.get("type")
            target_id = dependency.get("jobId")
            if target_id is None:
                if kind == "SEQUENTIAL" and size is not None:
                    sequential = True
                    continue
                raise refusal.DEPENDENCY_JOB_ID.refuse()
            target = self._job(target_id)
            if target is None:
                raise refusal.DEPENDENCY_NOT_FOUND.refuse(job_id=target_id)
            if kind == "N_TO_N" and size is not None:
                if target.array_size != size:
                    raise refusal.N_TO_N_SIZE.refuse(
                        size=size, job_id=target_id, other=target.array_size
                    )
                n_to_n.append(target)
            elif target not in whole:
                whole.append(target)
        return whole, n_to_n, sequential

    def describe_jobs(self, params: JsonObject) -> JsonObject:
        ids = params.get("jobs")
        if not isinstance(ids, list):
            raise refusal.REQUIRED.refuse(member="jobs")
        if len(ids) > facts.DESCRIBE_JOBS_MAX_IDS:
            raise refusal.DESCRIBE_JOBS_IDS.refuse()
        with self._cond:
            found = [job for job in (self._job(job_id) for job_id in ids) if job is not None]
            self._scheduler.observe(found)
            return {"jobs": [job.describe() for job in found]}

    def list_jobs(self, params: JsonObject) -> JsonObject:
        with self._cond:
            if params.get("arrayJobId"):
                parent = self._job(params["arrayJobId"])
                candidates = parent.children if parent is not None else []
            elif params.get("jobQueue"):
                queue_arn = self._check_queue(str(params["jobQueue"]))
                candidates = [j for j in self._scheduler.top_level if j.queue_arn == queue_arn]
            else:
                raise refusal.LIST_JOBS_SCOPE.refuse()
            return _listing.list_jobs(params, candidates)

    def cancel_job(self, params: JsonObject) -> JsonObject:
        self._stop(params, terminate=False)
        return {}

    def terminate_job(self, params: JsonObject) -> JsonObject:
        self._stop(params, terminate=True)
        return {}

    def _stop(self, params: JsonObject, *, terminate: bool) -> None:
        job_id = check.required(params, "jobId")
        reason = check.stop_reason(params)
        with self._cond:
            job = self._job(job_id)
            if job is None:
                raise refusal.JOB_NOT_FOUND.refuse(job_id=job_id)
            self._scheduler.stop(job, reason, terminate=terminate)

    # -- tags --------------------------------------------------------------------------------

    def _tagged(self, arn: str) -> Job | Definition:
        resource = arn.split(":", 5)[-1] if arn.startswith("arn:") else arn
        if resource.startswith("job/"):
            job = self._job(resource.removeprefix("job/"))
            if job is not None:
                if job.parent is not None:
                    raise refusal.TAG_ARRAY_CHILD.refuse()
                return job
        elif resource.startswith("job-definition/"):
            try:
                return self._definition(arn, active=False)
            except ServiceError:
                pass
        raise refusal.TAG_RESOURCE_NOT_FOUND.refuse(arn=arn)

    def _retagged(self, resource: Job | Definition) -> None:
        if isinstance(resource, Job):
            self._scheduler.journal.job_changed(resource)
        else:
            self._scheduler.journal.definition_changed(resource)

    def tag_resource(self, params: JsonObject) -> JsonObject:
        with self._cond:
            resource = self._tagged(check.required(params, "resourceArn"))
            resource.tags.update(check.tags(params.get("tags"), existing=resource.tags))
            self._retagged(resource)
        return {}

    def untag_resource(self, params: JsonObject) -> JsonObject:
        with self._cond:
            resource = self._tagged(check.required(params, "resourceArn"))
            keys = [check.tag_key(str(key)) for key in params.get("tagKeys") or []]
            for key in keys:
                resource.tags.pop(key, None)
            self._retagged(resource)
        return {}

    def list_tags_for_resource(self, params: JsonObject) -> JsonObject:
        with self._cond:
            return {"tags": dict(self._tagged(check.required(params, "resourceArn")).tags)}
