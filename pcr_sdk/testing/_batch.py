"""Scripted job states on top of moto's Docker-free Batch backend ("batch_simple").

moto marks every job SUCCEEDED inside SubmitJob. These patches make it only store the job; each
DescribeJobs call that includes a job then moves it one status forward, and the `JobScript`
decides when and how it finishes. TerminateJob and CancelJob take effect, dependencies are
honoured, and moto's growing-environment bug in DescribeJobs is neutralised.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final
from unittest import mock

from moto.batch.models import BatchBackend, Job
from moto.batch_simple.models import BatchSimpleBackend

from pcr_sdk._private.aws import BATCH_LOG_GROUP, DEPENDENCY_FAILED_REASON, ENV_ARRAY_INDEX
from pcr_sdk.testing._script import (
    ESSENTIAL_CONTAINER_EXITED,
    Failure,
    JobScript,
    JobView,
    environment_of,
)
from pcr_sdk.worker import JobContext

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_logs.type_defs import InputLogEventTypeDef
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

LOG_GROUP: Final = BATCH_LOG_GROUP
PROGRESSION: Final = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")
_PENDING: Final = 1
_RUNNING: Final = 4
_BEFORE_STARTING: Final = frozenset({"SUBMITTED", "PENDING", "RUNNABLE"})
DEPENDENCY_FAILED: Final = DEPENDENCY_FAILED_REASON


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@dataclass
class _JobState:
    job: Job
    view: JobView
    array_parent: bool
    array_child: bool
    describes: int = 0
    position: int = 0
    finished: bool = False
    container_reason: str | None = None


class HarnessIO:
    """The harness's own S3 and Logs access: unfaulted, uncaptured clients on the mock."""

    def __init__(self, *, s3: S3Client, logs: CloudWatchLogsClient, default_bucket: str) -> None:
        self._s3 = s3
        self._logs = logs
        self._default_bucket = default_bucket

    def run_worker(self, handler: Callable[[Any], object], environment: dict[str, str]) -> None:
        """Read the job's input, call `handler`, write output.json, as its container would.

        Goes through `pcr_sdk.worker.JobContext`, so plain jobs (config.json) and array
        children (packed inputs) are resolved exactly as in a real container.
        """
        context = JobContext.from_env(environment, s3=self._s3)
        context.save_output(handler(context.load_input()))

    def put_logs(self, stream: str, lines: Iterable[str]) -> None:
        """Append `lines` to `stream` in /aws/batch/job, creating both as needed."""
        exists = self._logs.exceptions.ResourceAlreadyExistsException
        with contextlib.suppress(exists):
            self._logs.create_log_group(logGroupName=LOG_GROUP)
        with contextlib.suppress(exists):
            self._logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
        now = int(time.time() * 1000)
        events: list[InputLogEventTypeDef] = [{"timestamp": now, "message": line} for line in lines]
        if events:
            self._logs.put_log_events(
                logGroupName=LOG_GROUP,
                logStreamName=stream,
                logEvents=events,
            )


class BatchSimulator:
    """Per-job state machine driven by DescribeJobs; installed by patches for a world's life."""

    def __init__(self, script: JobScript, io: HarnessIO) -> None:
        self._script = script
        self._io = io
        self._states: dict[str, _JobState] = {}
        self._lock = threading.RLock()

    # --- the patches -------------------------------------------------------------------------

    def patches(self) -> list[mock._patch[Any]]:
        """Patches of moto's classes; started and stopped by the world."""
        sim = self
        original_describe = Job.describe
        original_describe_jobs = BatchBackend.describe_jobs
        original_list_jobs = BatchBackend.list_jobs
        original_submit = BatchSimpleBackend.submit_job
        original_terminate = BatchBackend.terminate_job
        original_cancel = BatchBackend.cancel_job

        # moto's job table is a plain dict: a DescribeJobs or ListJobs iterating it while another
        # thread's SubmitJob adds to it fails ("dictionary changed size during iteration"). AWS
        # has no such limit, so the calls that touch the table take the simulator's lock.
        def submit_job(backend: BatchSimpleBackend, *args: Any, **kwargs: Any) -> Any:
            with sim._lock:
                return original_submit(backend, *args, **kwargs)

        def list_jobs(backend: BatchBackend, *args: Any, **kwargs: Any) -> Any:
            with sim._lock:
                return original_list_jobs(backend, *args, **kwargs)

        def store_only(backend: BatchSimpleBackend, include_start_attempt: bool, job: Job) -> None:
            del include_start_attempt
            backend.backend._jobs[job.job_id] = job
            sim.register(job)

        def get_status(job: Job) -> str | None:
            return job._status

        def set_status(job: Job, value: str) -> None:
            job._status = value

        def describe(job: Job) -> dict[str, Any]:
            return sim.describe(job, original_describe)

        def describe_jobs(backend: BatchBackend, jobs: list[str] | None) -> list[dict[str, Any]]:
            with sim._lock:
                sim.advance(jobs)
                return original_describe_jobs(backend, jobs)

        def terminate_job(backend: BatchBackend, job_id: str, reason: str) -> None:
            with sim._lock:
                original_terminate(backend, job_id, reason)
                sim.stop(job_id, reason, only_before_starting=False)

        def cancel_job(backend: BatchBackend, job_id: str, reason: str) -> None:
            with sim._lock:
                original_cancel(backend, job_id, reason)
                sim.stop(job_id, reason, only_before_starting=True)

        return [
            mock.patch.object(BatchSimpleBackend, "_mark_job_as_finished", store_only),
            mock.patch.object(BatchSimpleBackend, "submit_job", submit_job),
            mock.patch.object(BatchBackend, "list_jobs", list_jobs),
            mock.patch.object(Job, "status", property(get_status, set_status)),
            mock.patch.object(Job, "describe", describe),
            mock.patch.object(BatchBackend, "describe_jobs", describe_jobs),
            mock.patch.object(BatchBackend, "terminate_job", terminate_job),
            mock.patch.object(BatchBackend, "cancel_job", cancel_job),
        ]

    # --- state ------------------------------------------------------------------------------

    def register(self, job: Job) -> None:
        environment = environment_of(job.container_overrides.get("environment") or [])
        child_index = job.array_properties.get("index")
        if child_index is not None:
            # moto gives children no AWS_BATCH_JOB_ARRAY_INDEX; AWS Batch does
            environment[ENV_ARRAY_INDEX] = str(child_index)
        with self._lock:
            view = JobView(
                job_id=job.job_id,
                job_name=job.job_name,
                environment=environment,
                order=len(self._states),
                index=JobView.index_from(environment),
                depends_on=tuple(d["jobId"] for d in job.depends_on or [] if "jobId" in d),
            )
            self._states[job.job_id] = _JobState(
                job=job,
                view=view,
                array_parent="size" in job.array_properties,
                array_child="index" in job.array_properties,
            )

    def views(self) -> list[JobView]:
        with self._lock:
            return [state.view for state in self._states.values()]

    def describe(self, job: Job, original: Callable[[Job], dict[str, Any]]) -> dict[str, Any]:
        """moto's describe, minus its bug, plus the exit code and container reason it drops."""
        overrides = job.container_overrides
        environment = overrides.get("environment")
        pristine = list(environment) if isinstance(environment, list) else None
        try:
            result = original(job)
        finally:
            # moto appends AWS_BATCH_JOB_ID to the stored overrides on every describe.
            if pristine is not None:
                overrides["environment"] = pristine
        container = result.get("container")
        if job.job_stopped and isinstance(container, dict):
            if job.exit_code is not None:
                container["exitCode"] = job.exit_code
            with self._lock:
                state = self._states.get(job.job_id)
            if state is not None and state.container_reason is not None:
                container["reason"] = state.container_reason
        return result

    def advance(self, ids: list[str] | None) -> None:
        """One DescribeJobs call: move every job it includes one step (children before parents)."""
        with self._lock:
            wanted = set(ids or [])
            targets = {
                state.job.job_id: state
                for state in self._states.values()
                if not wanted or state.job.job_id in wanted or state.job.arn in wanted
            }
            for state in list(targets.values()):
                if state.array_parent:
                    for child in state.job._child_jobs or []:
                        child_state = self._states.get(child.job_id)
                        if child_state is not None:
                            targets[child.job_id] = child_state
            for state in sorted(targets.values(), key=lambda s: s.view.order):
                self._step(state)

    def stop(self, job_id: str, reason: str, *, only_before_starting: bool) -> None:
        """TerminateJob / CancelJob: an unfinished job ends FAILED with `reason`.

        Stopping an array parent stops its unfinished children too, as on AWS.
        """
        with self._lock:
            state = self._states.get(job_id)
            if state is None or state.finished:
                return
            if state.array_parent:
                for child in state.job._child_jobs or []:
                    child_state = self._states.get(child.job_id)
                    if child_state is not None:
                        self._stop(child_state, reason, only_before_starting=only_before_starting)
            self._stop(state, reason, only_before_starting=only_before_starting)

    def _stop(self, state: _JobState, reason: str, *, only_before_starting: bool) -> None:
        if state.finished:
            return
        started = PROGRESSION[state.position] not in _BEFORE_STARTING
        if only_before_starting and started:
            return  # like AWS: CancelJob does not stop a STARTING or RUNNING job
        self._finish(state, "FAILED", exit_code=None, reason=reason, ran=started)

    # --- transitions ------------------------------------------------------------------------

    def _show(self, state: _JobState, position: int) -> None:
        state.position = max(state.position, position)
        state.job._status = PROGRESSION[state.position]
        if state.position >= _RUNNING:
            self._start(state)

    def _start(self, state: _JobState) -> None:
        job = state.job
        if job.log_stream_name is None:
            job.job_started_at = datetime.now()
            job.log_stream_name = job._stream_name

    def _step(self, state: _JobState) -> None:
        if state.finished:
            return
        if state.array_parent:
            self._step_array_parent(state)
            return
        dependencies = [
            self._states[job_id] for job_id in state.view.depends_on if job_id in self._states
        ]
        if any(dep.finished and dep.job._status == "FAILED" for dep in dependencies):
            self._finish(state, "FAILED", exit_code=None, reason=DEPENDENCY_FAILED, ran=False)
            return
        if not all(dep.finished for dep in dependencies):
            self._show(state, _PENDING)  # AWS keeps a job PENDING until its dependencies end
            return
        state.describes += 1
        if state.describes <= self._script.polls_for(state.view):
            self._show(state, min(state.describes - 1, _RUNNING))
            return
        failure = self._script.failure_for(state.view)
        handler = self._script.handler
        if failure is None and handler is not None:
            failure = self._run_worker(state, handler)
        if failure is None:
            self._finish(state, "SUCCEEDED", exit_code=0, reason=ESSENTIAL_CONTAINER_EXITED)
        else:
            self._finish(
                state,
                "FAILED",
                exit_code=failure.exit_code,
                reason=failure.reason,
                log_lines=failure.log_lines,
            )

    def _step_array_parent(self, state: _JobState) -> None:
        children = [
            self._states[child.job_id]
            for child in state.job._child_jobs or []
            if child.job_id in self._states
        ]
        if children and all(child.finished for child in children):
            if all(child.job._status == "SUCCEEDED" for child in children):
                self._finish(state, "SUCCEEDED", exit_code=None, reason=None, ran=False)
            else:
                self._finish(state, "FAILED", exit_code=None, reason=None, ran=False)
        else:
            self._show(state, _PENDING)

    def _run_worker(self, state: _JobState, handler: Callable[[Any], object]) -> Failure | None:
        try:
            self._io.run_worker(handler, dict(state.view.environment))
        except Exception as err:  # any worker error is the job's failure, as in a container
            logger.debug("simulated worker of job %s failed", state.job.job_id, exc_info=True)
            text = "".join(traceback.format_exception_only(type(err), err)).strip()
            return Failure(exit_code=1, reason=ESSENTIAL_CONTAINER_EXITED, log_lines=(text,))
        return None

    def _finish(
        self,
        state: _JobState,
        status: str,
        *,
        exit_code: int | None,
        reason: str | None,
        ran: bool = True,
        log_lines: tuple[str, ...] = (),
    ) -> None:
        job = state.job
        now = datetime.now()
        if ran:
            self._start(state)
            container: dict[str, Any] = {
                "containerInstanceArn": f"{job.job_queue.arn}/container-instance/pcr-testing",
                "taskArn": f"{job.job_queue.arn}/task/{job.job_id}",
                "logStreamName": job.log_stream_name,
                "networkInterfaces": [],
            }
            if exit_code is not None:
                container["exitCode"] = exit_code
            elif reason is not None:
                container["reason"] = reason
            attempt: dict[str, Any] = {
                "container": container,
                "startedAt": _millis(job.job_started_at),
                "stoppedAt": _millis(now),
            }
            if reason is not None:
                attempt["statusReason"] = reason
            job.attempts.append(attempt)
            if exit_code is None and status == "FAILED":
                state.container_reason = reason
        job.exit_code = exit_code
        job.job_stopped = True
        job.job_stopped_at = now
        job.job_stopped_reason = reason
        job._status = status
        state.finished = True
        if log_lines and job.log_stream_name is not None:
            self._io.put_logs(job.log_stream_name, log_lines)
