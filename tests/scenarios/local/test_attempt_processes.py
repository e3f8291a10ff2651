"""No process of a job outlives its attempt: not when the job ends, is terminated, or the
backend is SIGKILLed; one supervisor runs every attempt, and signals give 128 + n."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Final

import pytest

from pcr_sdk._private.wire import facts
from pcr_sdk.local import LocalBackend
from pcr_sdk.local._supervisor import Spawn, Supervisor, SupervisorError
from tests.support.local import WORKERS, Kit, running, wait_until_gone
from tests.support.workers.local_escape_holder import ESCAPER

pytestmark = [
    pytest.mark.subprocess,
    pytest.mark.skipif(
        sys.platform != "linux",
        reason="the subreaper and /proc are Linux's (macOS: process groups)",
    ),
]

REPOSITORY = Path(__file__).parents[3]


def _escaper(sleep: float) -> list[str]:
    return [sys.executable, "-c", ESCAPER, str(sleep)]


def _pids(lines: list[str]) -> list[int]:
    return [int(pid) for pid in lines[0].split()]


def test_what_a_job_started_is_gone_when_it_is_reported_finished() -> None:
    """A child, a `setsid` child and a daemon with an empty environment all die with the job:
    at the moment DescribeJobs says SUCCEEDED none of them runs any more."""
    with LocalBackend() as local:
        kit = Kit(local)
        job = kit.wait_one(kit.submit(kit.definition("escapes"), _escaper(1.0)))
        pids = _pids(kit.log(job))

        alive = [pid for pid in pids if running(pid)]

    assert job["status"] == "SUCCEEDED", kit.log(job)
    assert len(pids) == 4
    assert alive == []


def test_terminate_job_ends_every_process_of_the_attempt() -> None:
    with LocalBackend(grace_seconds=0.2) as local:
        kit = Kit(local)
        job_id = kit.submit(kit.definition("terminated"), _escaper(600))
        pids = _pids(kit.wait_for_log(job_id))
        assert all(running(pid) for pid in pids)

        kit.batch.terminate_job(jobId=job_id, reason="enough")
        job = kit.wait_one(job_id)
        alive = [pid for pid in pids if running(pid)]

    assert job["status"] == "FAILED"
    assert alive == []


def test_sigkill_of_the_backend_ends_escaped_processes_within_two_seconds(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    holder = subprocess.Popen(
        [sys.executable, str(WORKERS / "local_escape_holder.py"), str(pid_file)],
        cwd=REPOSITORY,
        env={**os.environ, "PYTHONPATH": str(REPOSITORY)},
    )
    try:
        deadline = time.monotonic() + 60
        pause = threading.Event()
        while not pid_file.exists() or not pid_file.read_text().strip():
            assert holder.poll() is None, "the holder exited early"
            assert time.monotonic() < deadline, "the held job never logged its pids"
            pause.wait(0.05)
        pids = _pids([pid_file.read_text()])
        assert len(pids) == 4
        assert all(running(pid) for pid in pids)

        holder.send_signal(signal.SIGKILL)
        holder.wait()

        assert wait_until_gone(pids, timeout=2.0) == []
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


PARENT = "import os; print(os.getppid(), flush=True)"


def test_one_supervisor_is_the_parent_of_every_attempt() -> None:
    """No interpreter starts per attempt: every job's parent is the backend's one supervisor."""
    with LocalBackend() as local:
        kit = Kit(local)
        definition = kit.definition("parent")
        jobs = kit.wait([kit.submit(definition, [sys.executable, "-c", PARENT]) for _ in range(3)])
        parents = {int(kit.log(job)[0]) for job in jobs.values()}
        (supervisor,) = parents
        command = Path(f"/proc/{supervisor}/cmdline").read_bytes().split(b"\0")
        stat = Path(f"/proc/{supervisor}/stat").read_text()

    assert any(part.endswith(b"_reaper.py") for part in command)
    assert int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid()  # the backend's child


@pytest.mark.parametrize(
    ("code", "exit_code"),
    [
        ("raise SystemExit(3)", 3),
        ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", 137),
        ("import os, signal; os.kill(os.getpid(), signal.SIGTERM)", 143),
        ("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)", 139),
    ],
)
def test_an_exit_code_or_a_signal_is_reported_as_a_container_reports_it(
    code: str, exit_code: int
) -> None:
    with LocalBackend() as local:
        kit = Kit(local)
        job = kit.wait_one(
            kit.submit(kit.definition("ends"), [sys.executable, "-c", f"print('bye'); {code}"])
        )
        log = kit.log(job)
    assert job["container"]["exitCode"] == exit_code
    assert log == ["bye"]  # nothing of the engine's own (no traceback)


OVER = (
    "import time; held = b'x' * ({mib} * 1024 * 1024); print('holding', flush=True); time.sleep(30)"
)
CHILD_OVER = (
    "import subprocess, sys; subprocess.run([sys.executable, '-c', "
    "\"import time; held = b'x' * (300 * 1024 * 1024); time.sleep(30)\"])"
)


def test_memory_used_by_a_jobs_child_counts_against_its_memory() -> None:
    with LocalBackend() as local:
        kit = Kit(local)
        definition = kit.definition("child-memory", containerProperties={"memory": 128})
        job = kit.wait_one(kit.submit(definition, [sys.executable, "-c", CHILD_OVER]))
    assert job["status"] == "FAILED"
    assert job["container"]["exitCode"] == facts.SIGKILL_EXIT_CODE
    assert job["container"]["reason"] == facts.OUT_OF_MEMORY_REASON


def test_a_retry_rule_on_exit_code_137_retries_a_job_killed_for_its_memory() -> None:
    with LocalBackend() as local:
        kit = Kit(local)
        definition = kit.definition(
            "oom-retry",
            containerProperties={"memory": 64},
            retryStrategy={
                "attempts": 2,
                "evaluateOnExit": [{"onExitCode": "137", "action": "RETRY"}],
            },
        )
        job_id = kit.submit(definition, [sys.executable, "-c", OVER.format(mib=200)])
        job = kit.wait([job_id], timeout=60)[job_id]
    assert job["status"] == "FAILED"
    assert [attempt["container"]["exitCode"] for attempt in job["attempts"]] == [137, 137]
    assert {attempt["container"]["reason"] for attempt in job["attempts"]} == {
        facts.OUT_OF_MEMORY_REASON
    }


def _start(supervisor: Supervisor, spawn: Spawn) -> None:
    read, write = os.pipe()
    try:
        supervisor.start(spawn, write)  # closes `write`
    finally:
        os.close(read)


def test_the_supervisor_says_why_a_program_cannot_start(tmp_path: Path) -> None:
    supervisor = Supervisor()
    supervisor.open()
    try:
        program = tmp_path / "not-executable"
        program.write_text("#!/bin/sh\n")
        with pytest.raises(SupervisorError, match="prog: Permission denied"):
            _start(supervisor, Spawn("k", str(program), ["prog"], {}, None, None, {}))
        with pytest.raises(SupervisorError, match="no directory"):
            _start(
                supervisor, Spawn("k2", "/bin/true", ["true"], {}, str(tmp_path / "gone"), None, {})
            )
    finally:
        supervisor.close()
    with pytest.raises(SupervisorError, match="not running"):
        _start(supervisor, Spawn("k3", "/bin/true", ["true"], {}, None, None, {}))


EXITED: Final = """
import json, os, sys, time
from pcr_sdk.local._reaper import next_exited
peek = sys.argv[1] == "peek"
pids = {
    os.posix_spawn("/bin/sh", ["sh", "-c", "exit 3"], {}): 3,
    os.posix_spawn("/bin/sh", ["sh", "-c", "kill -9 $$"], {}): 137,
}
found = {}
deadline = time.monotonic() + 30
while len(found) < len(pids) and time.monotonic() < deadline:
    exited = next_exited(peek=peek)
    if exited is None:
        time.sleep(0.01)
        continue
    assert exited.reaped is not peek
    found[exited.pid] = exited.code
    if peek:
        os.waitpid(exited.pid, 0)
assert next_exited(peek=peek) is None
print(json.dumps(sorted(found.values()) == sorted(pids.values()) and set(found) == set(pids)))
"""


@pytest.mark.parametrize("mode", ["peek", "reap"], ids=["waitid", "waitpid (macOS before 3.13)"])
def test_exited_children_are_reported_as_containers_report_them(mode: str) -> None:
    """Where there is no waitid (macOS before Python 3.13) the child is reaped at once. In a
    process of its own: it waits for any child."""
    done = subprocess.run(
        [sys.executable, "-c", EXITED, mode],
        capture_output=True,
        check=False,
        timeout=60,
        cwd=REPOSITORY,
        env={**os.environ, "PYTHONPATH": str(REPOSITORY)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == b"true"


SLEEPER = "import os, time; print(os.getpid(), os.getppid(), flush=True); time.sleep(600)"


def test_a_supervisor_killed_on_its_own_fails_its_attempts_and_kills_their_groups() -> None:
    with LocalBackend() as local:
        kit = Kit(local)
        definition = kit.definition("orphaned")
        job_id = kit.submit(definition, [sys.executable, "-c", SLEEPER])
        pid, supervisor = (int(part) for part in kit.wait_for_log(job_id)[0].split())

        os.kill(supervisor, signal.SIGKILL)
        job = kit.wait_one(job_id)
        later = kit.wait_one(kit.submit(definition, [sys.executable, "-c", "pass"]))

    assert job["status"] == "FAILED"
    assert job["container"]["reason"] == "InternalError: the local supervisor exited"
    assert wait_until_gone([pid], timeout=5) == []
    assert later["statusReason"] == facts.TASK_START_FAILED_REASON
    assert later["container"]["reason"].endswith("the local supervisor exited")
