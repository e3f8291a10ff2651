"""The supervisor a job process runs under (its argv; run for real, marked `subprocess`: it
ends as its job does), and the spawner that starts it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pcr_sdk.local._spawn import SUPERVISOR, Spawner, SpawnerClosed, supervised


@pytest.mark.subprocess
@pytest.mark.parametrize(
    ("code", "returncode"),
    [("raise SystemExit(3)", 3), ("import os, signal; os.kill(os.getpid(), signal.SIGTERM)", -15)],
)
def test_the_supervisor_ends_as_its_job_does(code: str, returncode: int) -> None:
    """An exit code passes through; death by a signal is re-raised (a container's 128 + N)."""
    argv = [sys.executable, "-c", code]
    finished = subprocess.run(supervised(sys.executable, argv), check=False, timeout=30)
    assert finished.returncode == returncode


@pytest.mark.subprocess
def test_the_supervisor_reports_a_program_it_cannot_start() -> None:
    finished = subprocess.run(
        supervised("/nonexistent/program", ["program"]),
        check=False,
        capture_output=True,
        timeout=30,
    )
    assert finished.returncode == 127
    assert b"program: No such file or directory" in finished.stderr


def test_the_supervisor_is_an_isolated_interpreter_told_its_parent_and_program() -> None:
    argv = supervised("/usr/bin/env", ["env", "python3", "worker.py"])
    assert argv[:5] == [sys.executable, "-I", "-S", "-c", SUPERVISOR]  # no site, no user path
    assert argv[5:] == [str(os.getpid()), "/usr/bin/env", "env", "python3", "worker.py"]
    compile(SUPERVISOR, "<supervisor>", "exec")  # it is Python that the interpreter can run


def test_a_closed_spawner_starts_nothing() -> None:
    spawner = Spawner()
    spawner.close()  # never started: closing is enough
    with pytest.raises(SpawnerClosed):
        spawner.popen(["true"])
