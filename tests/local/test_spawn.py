"""The supervisor a job process runs under: it ends as its job does."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pcr_sdk.local._spawn import supervised

pytestmark = pytest.mark.subprocess


@pytest.mark.parametrize(
    ("code", "returncode"),
    [("raise SystemExit(3)", 3), ("import os, signal; os.kill(os.getpid(), signal.SIGTERM)", -15)],
)
def test_the_supervisor_ends_as_its_job_does(code: str, returncode: int) -> None:
    """An exit code passes through; death by a signal is re-raised (a container's 128 + N)."""
    argv = [sys.executable, "-c", code]
    finished = subprocess.run(supervised(sys.executable, argv), check=False, timeout=30)
    assert finished.returncode == returncode


def test_the_supervisor_reports_a_program_it_cannot_start() -> None:
    finished = subprocess.run(
        supervised("/nonexistent/program", ["program"]),
        check=False,
        capture_output=True,
        timeout=30,
    )
    assert finished.returncode == 127
    assert b"program: No such file or directory" in finished.stderr
