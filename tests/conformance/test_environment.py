"""The job's real environment: its memory, its exit codes, its image's own command, its end.

A container killed for exceeding its memory, or by a signal, reports what Docker and ECS
report; what a job left behind dies with it. On a MotoWorld, whose jobs are programs in the
test process, only the exit codes apply.
"""

from __future__ import annotations

import signal
import threading

import pytest

from pcr_sdk._private.wire import facts
from tests.conformance import scripts
from tests.conformance.target import Target

pytestmark = pytest.mark.conformance

LIMIT_MIB = "128"


def test_a_job_over_its_memory_fails_with_exit_code_137(target: Target) -> None:
    """A container whose memory use exceeds its MEMORY is killed: exit code 137 and the reason
    "OutOfMemoryError: Container killed due to memory usage".
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-error-codes.html"""
    target.skip_on_moto("its programs use no memory")
    definition = target.definition("over-memory", memory=LIMIT_MIB)
    job_id = target.submit(definition, target.script(scripts.HOLD_MEMORY, "400", "20"))

    job = target.wait([job_id])[job_id]

    assert job["status"] == "FAILED"
    assert job["container"]["exitCode"] == facts.SIGKILL_EXIT_CODE
    reason = job["container"].get("reason")
    if target.kind == "containers":  # podman on cgroup v1 does not report OOMKilled
        assert reason in (None, facts.OUT_OF_MEMORY_REASON)
    else:
        assert reason == facts.OUT_OF_MEMORY_REASON
    assert "done" not in target.log(job)


def test_the_same_job_within_its_memory_succeeds(target: Target) -> None:
    target.skip_on_moto("its programs use no memory")
    definition = target.definition("within-memory", memory=LIMIT_MIB)
    job_id = target.submit(definition, target.script(scripts.HOLD_MEMORY, "30", "1"))

    job = target.wait([job_id])[job_id]

    assert job["status"] == "SUCCEEDED", target.log(job)
    assert target.log(job) == ["holding 30 MiB", "done"]


@pytest.mark.parametrize(
    ("number", "exit_code"),
    [(signal.SIGKILL, 137), (signal.SIGTERM, 143), (signal.SIGSEGV, 139)],
)
def test_a_job_killed_by_a_signal_reports_128_plus_its_number(
    target: Target, number: signal.Signals, exit_code: int
) -> None:
    """Docker (and so ECS) report a container whose process died of signal n with exit code
    128 + n; the log holds the job's own output only. With `initProcessEnabled` the job is not
    the container's PID 1 (which no signal from inside the container kills).
    https://docs.docker.com/engine/containers/run/#exit-status and
    https://docs.aws.amazon.com/batch/latest/APIReference/API_LinuxParameters.html"""
    definition = target.definition(
        f"signal-{number.name.lower()}",
        containerProperties={"linuxParameters": {"initProcessEnabled": True}},
    )
    job_id = target.submit(definition, target.script(scripts.SIGNAL_SELF, str(int(number))))

    job = target.wait([job_id])[job_id]

    assert job["status"] == "FAILED"
    assert job["container"]["exitCode"] == exit_code
    assert target.log(job) == ["ready"]


def test_a_job_that_outlives_its_grace_period_is_killed_with_exit_code_137(
    target: Target,
) -> None:
    """TerminateJob: SIGTERM, and SIGKILL once the grace period is over; the job's exit code
    is then 137 and its log its own.
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_StopTask.html"""
    definition = target.definition("ignores-sigterm-on-stop", target.script(scripts.ON_SIGTERM))
    job_id = target.submit(definition)
    target.wait_for_line(job_id, "ready")

    target.batch.terminate_job(jobId=job_id, reason="stop now")
    job = target.wait([job_id])[job_id]

    assert job["status"] == "FAILED"
    assert job["container"]["exitCode"] == facts.SIGKILL_EXIT_CODE
    assert target.log(job) == ["ready", "got SIGTERM"]


def test_what_a_job_leaves_running_ends_with_it(target: Target) -> None:
    """When the container's main process exits the container stops, and every process in it:
    a child that left the job's session does not go on writing to its log.
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html
    (essential containers)"""
    target.skip_on_moto("its programs start no processes")
    definition = target.definition("leaves-a-child")
    job_id = target.submit(definition, target.script(scripts.LEAVE_A_CHILD))
    job = target.wait([job_id])[job_id]
    assert job["status"] == "SUCCEEDED"

    threading.Event().wait(2.5)  # the child would have logged after 1 s

    assert target.log(job) == ["leaving"]


def test_a_definition_without_a_command_runs_its_images_own(target: Target) -> None:
    """A job definition need not have a command: the container runs its image's ENTRYPOINT
    and CMD in its WORKDIR. The conformance image is the examples' worker, whose CMD (python
    /app/worker.py) exits 1 without its S3 variables. A local process cannot run an image's
    command: it fails to start, saying how to run it.
    https://docs.aws.amazon.com/batch/latest/APIReference/API_ContainerProperties.html (command)"""
    target.skip_on_moto("its programs are picked by their command")
    definition = target.definition("image-command")
    job_id = target.submit(definition)

    job = target.wait([job_id])[job_id]

    assert job["status"] == "FAILED"
    if target.runs_images:
        assert job["container"]["exitCode"] == 1
        assert target.log(job)[-1].startswith("S3_JOB_BUCKET, S3_JOB_CONFIG_KEY")
    else:
        assert job["statusReason"] == facts.TASK_START_FAILED_REASON
        reason = job["container"]["reason"]
        assert reason.startswith(f"{facts.CANNOT_START_CONTAINER}: no command to run for image")
        assert "containers=" in reason
