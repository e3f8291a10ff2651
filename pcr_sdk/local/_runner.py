"""An attempt's runner thread: start the process, stream its output to Logs, report its end."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pcr_sdk._private import aws
from pcr_sdk.local._logs import LogStore
from pcr_sdk.local._model import Attempt, Job
from pcr_sdk.local._process import ContainerRun, Launcher, LaunchError

if TYPE_CHECKING:
    from pcr_sdk.local._scheduler import Scheduler

logger = logging.getLogger(__name__)

SHUT_DOWN_REASON = "The local backend shut down"
"""statusReason of a job whose attempt was running when the backend closed (local only)."""


def container_run(job: Job, attempt: Attempt, queue: str) -> ContainerRun:
    """The attempt as AWS Batch hands it to a container, with the AWS_BATCH_* variables."""
    environment = dict(job.environment)
    environment.update(
        {
            aws.ENV_JOB_ID: job.job_id,
            aws.ENV_JOB_ATTEMPT: str(attempt.number),
            aws.ENV_QUEUE_NAME: queue,
            aws.ENV_CE_NAME: queue,
        }
    )
    if job.index is not None:
        environment[aws.ENV_ARRAY_INDEX] = str(job.index)
        environment[aws.ENV_ARRAY_SIZE] = str(job.size_of_array)
    return ContainerRun(
        job_id=job.job_id,
        attempt=attempt.number,
        image=job.definition.image,
        command=job.command,
        definition_command=job.definition_command,
        environment=environment,
    )


def run_attempt(
    scheduler: Scheduler, launcher: Launcher, logs: LogStore, job: Job, attempt: Attempt
) -> None:
    """The body of a runner thread."""
    try:
        _run(scheduler, launcher, logs, job, attempt)
    except Exception as err:  # a bug here must not leave the job RUNNING forever
        logger.exception("local engine: attempt %d of job %s broke", attempt.number, job.job_id)
        with scheduler.cond:
            if job.current is attempt:
                scheduler.end_attempt(
                    job, attempt, None, f"InternalError: {err}", aws.TASK_START_FAILED_REASON
                )
    finally:
        scheduler.runner_done()


def _run(
    scheduler: Scheduler, launcher: Launcher, logs: LogStore, job: Job, attempt: Attempt
) -> None:
    with scheduler.cond:
        run = container_run(job, attempt, scheduler.queue)
        stream = f"{job.definition.name}/default/{scheduler.new_hex()}"
        if attempt.stop is not None or scheduler.closing:  # stopped while STARTING
            scheduler.end_attempt(job, attempt, None, None, aws.TASK_START_FAILED_REASON)
            return
    logs.create_stream(stream)
    try:
        _start_and_wait(scheduler, launcher, logs, job, attempt, run, stream)
    finally:
        logs.end_stream(stream)


def _start_and_wait(
    scheduler: Scheduler,
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
                job, attempt, None, f"{err.reason}: {err}", aws.TASK_START_FAILED_REASON
            )
        return
    with scheduler.cond:
        attempt.log_stream = stream
        closing = scheduler.attempt_started(job, attempt, handle)
    if closing:
        handle.kill()
    exit_code = handle.wait()
    with scheduler.cond:
        scheduler.end_attempt(job, attempt, exit_code, None, aws.CONTAINER_EXITED_REASON)
