"""An attempt's runner thread: start the process, stream its output to Logs, report its end."""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from pcr_sdk._private.wire import facts
from pcr_sdk.local._logs import LogStore
from pcr_sdk.local._model import Attempt, Job
from pcr_sdk.local._process import ContainerRun, Launcher, LaunchError, ProcessHandle

logger = logging.getLogger(__name__)


class AttemptHost(Protocol):
    """What a runner thread needs of the scheduler that started it (`Scheduler` is one)."""

    cond: threading.Condition
    """Held for every change of a job's state."""
    queue: str
    """The queue's name (the attempt's `AWS_BATCH_JQ_NAME`)."""

    @property
    def closing(self) -> bool:
        """The backend is shutting down: start nothing more."""
        ...

    def new_hex(self) -> str:
        """A new random id, 32 hex digits."""
        ...

    def attempt_started(self, job: Job, attempt: Attempt, handle: ProcessHandle) -> bool:
        """STARTING -> RUNNING (caller holds `cond`); True if the backend is closing."""
        ...

    def end_attempt(
        self,
        job: Job,
        attempt: Attempt,
        exit_code: int | None,
        reason: str | None,
        status_reason: str,
    ) -> None:
        """Record a finished attempt (caller holds `cond`)."""
        ...

    def runner_done(self) -> None:
        """This runner thread is about to end."""
        ...


SHUT_DOWN_REASON = "The local backend shut down"
"""statusReason of a job whose attempt was running when the backend closed (local only)."""


def container_run(job: Job, attempt: Attempt, queue: str) -> ContainerRun:
    """The attempt as AWS Batch hands it to a container, with the AWS_BATCH_* variables."""
    environment = dict(job.environment)
    environment.update(
        {
            facts.ENV_JOB_ID: job.job_id,
            facts.ENV_JOB_ATTEMPT: str(attempt.number),
            facts.ENV_QUEUE_NAME: queue,
            facts.ENV_CE_NAME: queue,
        }
    )
    if job.index is not None:
        environment[facts.ENV_ARRAY_INDEX] = str(job.index)
        environment[facts.ENV_ARRAY_SIZE] = str(job.size_of_array)
    return ContainerRun(
        job_id=job.job_id,
        attempt=attempt.number,
        image=job.definition.image,
        command=job.command,
        definition_command=job.definition_command,
        environment=environment,
        resources=job.resources,
        properties=job.definition.container,
    )


def run_attempt(
    scheduler: AttemptHost, launcher: Launcher, logs: LogStore, job: Job, attempt: Attempt
) -> None:
    """The body of a runner thread."""
    try:
        _run(scheduler, launcher, logs, job, attempt)
    except Exception as err:  # a bug here must not leave the job RUNNING forever
        logger.exception("local engine: attempt %d of job %s broke", attempt.number, job.job_id)
        with scheduler.cond:
            if job.current is attempt:
                scheduler.end_attempt(
                    job, attempt, None, f"InternalError: {err}", facts.TASK_START_FAILED_REASON
                )
    finally:
        scheduler.runner_done()


def _run(
    scheduler: AttemptHost, launcher: Launcher, logs: LogStore, job: Job, attempt: Attempt
) -> None:
    with scheduler.cond:
        run = container_run(job, attempt, scheduler.queue)
        stream = f"{job.definition.name}/default/{attempt.task_id}"
        if attempt.stop is not None or scheduler.closing:  # stopped while STARTING
            scheduler.end_attempt(job, attempt, None, None, facts.TASK_START_FAILED_REASON)
            return
    logs.create_stream(stream)
    try:
        _start_and_wait(scheduler, launcher, logs, job, attempt, run, stream)
    finally:
        logs.end_stream(stream)


def _start_and_wait(
    scheduler: AttemptHost,
    launcher: Launcher,
    logs: LogStore,
    job: Job,
    attempt: Attempt,
    run: ContainerRun,
    stream: str,
) -> None:
    try:
        handle = launcher.start(run, lambda line: logs.append(stream, line))
    except LaunchError as err:
        logger.warning("job %s attempt %d did not start: %s", job.job_id, attempt.number, err)
        logs.append(stream, f"{err.reason}: {err}")
        with scheduler.cond:
            attempt.log_stream = stream
            scheduler.end_attempt(
                job, attempt, None, f"{err.reason}: {err}", facts.TASK_START_FAILED_REASON
            )
        return
    with scheduler.cond:
        attempt.log_stream = stream
        closing = scheduler.attempt_started(job, attempt, handle)
    if closing:
        handle.kill()
    ended = handle.wait()
    with scheduler.cond:
        scheduler.end_attempt(job, attempt, ended.code, ended.reason, ended.status_reason)
