"""The backend's one supervisor, as the engine sees it: its checks before any process, and one
real attempt (what processes do under it: tests/scenarios/local/test_attempt_processes.py)."""

from __future__ import annotations

import os
import sys

import pytest

from pcr_sdk.local._supervisor import Spawn, Supervisor, SupervisorError


def _spawn(code: str, *, memory_mib: int | None = None) -> Spawn:
    return Spawn(
        key="job:1", program=sys.executable, argv=[sys.executable, "-c", code],
        env={"PATH": os.environ.get("PATH", "")}, cwd=None, memory_mib=memory_mib,
        marker={"AWS_BATCH_JOB_ID": "job"},
    )  # fmt: skip


@pytest.mark.parametrize("seconds", [0, -1.0, float("nan")])
def test_a_sampling_interval_must_be_positive(seconds: float) -> None:
    with pytest.raises(ValueError, match="sample_seconds must be positive"):
        Supervisor(sample_seconds=seconds)


def test_nothing_starts_before_open_and_the_output_is_closed_anyway() -> None:
    read, write = os.pipe()
    try:
        with pytest.raises(SupervisorError, match="not running"):
            Supervisor().start(_spawn("pass"), write)
        with pytest.raises(OSError, match="Bad file descriptor"):
            os.fstat(write)  # `start` took the descriptor over, even when it refused
    finally:
        os.close(read)


def test_close_without_open_does_nothing() -> None:
    Supervisor().close()


@pytest.mark.subprocess
def test_an_attempt_ends_as_its_process_does_with_128_plus_a_signal() -> None:
    supervisor = Supervisor()
    supervisor.open()
    try:
        codes = []
        for code in ("raise SystemExit(3)", "import os, signal; os.kill(os.getpid(), 15)"):
            read, write = os.pipe()
            attempt = supervisor.start(_spawn(code), write)
            codes.append(attempt.wait(30).code)
            os.close(read)
    finally:
        supervisor.close()
    assert codes == [3, 128 + 15]
