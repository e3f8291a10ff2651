"""No job process outlives the backend: not on close, not on an exception, not on SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pcr_sdk.local import LocalBackend
from tests.support.local import WORKERS, Kit, running, wait_until_gone

pytestmark = pytest.mark.subprocess

GRANDPARENT = """
import os, subprocess, time
child = subprocess.Popen(["sleep", "600"])
print(os.getpid(), child.pid, flush=True)
time.sleep(600)
"""
"""A job that starts a grandchild and logs both process ids."""


def _job_pids(kit: Kit, job_id: str) -> list[int]:
    return [int(pid) for pid in kit.wait_for_log(job_id)[0].split()]


def test_an_exception_in_the_with_block_ends_every_job_process() -> None:
    pids: list[int] = []

    def fail_while_a_job_runs() -> None:
        with LocalBackend([sys.executable, "-c", GRANDPARENT]) as local:
            kit = Kit(local)
            pids.extend(_job_pids(kit, kit.submit(kit.definition("raises"))))
            assert all(running(pid) for pid in pids)
            raise RuntimeError("user code broke")

    with pytest.raises(RuntimeError, match="user code broke"):
        fail_while_a_job_runs()
    assert len(pids) == 2
    assert wait_until_gone(pids) == []


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's")
def test_sigkill_of_the_process_holding_the_backend_ends_every_job_process(
    tmp_path: Path,
) -> None:
    """The job and the grandchild it started die with the backend's process, SIGKILL and all."""
    pid_file = tmp_path / "pids"
    holder = subprocess.Popen(
        [sys.executable, str(WORKERS / "local_holder.py"), str(pid_file)],
        cwd=Path(__file__).parents[3],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[3])},
    )
    try:
        deadline = time.monotonic() + 30
        pause = threading.Event()
        while not pid_file.exists() or not pid_file.read_text().strip():
            assert holder.poll() is None, "the holder exited early"
            assert time.monotonic() < deadline, "the held job never logged its pids"
            pause.wait(0.05)
        pids = [int(pid) for pid in pid_file.read_text().split()]
        assert len(pids) == 2
        assert all(running(pid) for pid in pids)

        holder.send_signal(signal.SIGKILL)
        holder.wait()

        assert wait_until_gone(pids) == []
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
