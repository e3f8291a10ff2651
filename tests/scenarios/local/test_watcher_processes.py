"""Two real processes share a batch on the local backend, over HTTP: one submits in two waves,
the other attaches between them and waits, as `pcr wait` does. The watcher's wait follows the
batch as it grows and ends only once the submitter has closed it and every job of both waves
has finished; the submitter never finds its definition pulled from under it.

Before sessions, the watcher waited for the jobs it saw at attach, deregistered the definition
and exited: the submitter's second wave then failed (`Job definition ... is inactive`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pcr_sdk.local import LocalBackend
from tests.support.local import SDK_WORKER, WORKERS, python

pytestmark = pytest.mark.subprocess


def _start(script: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKERS / script), *args], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _line(process: subprocess.Popen[str], prefix: str) -> str:
    """The next line of `process`'s stdout that starts with `prefix` (pytest's timeout bounds
    the wait)."""
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith(prefix):
            return line.strip()
    _, err = process.communicate(timeout=30)
    pytest.fail(f"no line {prefix!r}; exit {process.returncode}: {err}")


def _finished(backend: LocalBackend, count: int) -> bool:
    listed = backend.clients.batch.list_jobs(jobQueue=backend.queue, jobStatus="SUCCEEDED")
    return len(listed["jobSummaryList"]) >= count


def test_a_watcher_process_follows_a_growing_batch_and_ends_after_its_submitter(
    tmp_path: Path,
) -> None:
    with LocalBackend(python(SDK_WORKER), max_parallel=2) as backend:
        env = {
            **os.environ, **backend.client_environment(),
            "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }  # fmt: skip
        env.pop("AWS_PROFILE", None)
        go = tmp_path / "go"
        submitter = _start("watch_submitter.py", [backend.queue, backend.bucket, str(go)], env)
        watcher: subprocess.Popen[str] | None = None
        try:
            batch_id = _line(submitter, "batch ").split()[1]
            _line(submitter, "wave 1")
            watcher = _start("watch_watcher.py", [batch_id, backend.queue, backend.bucket], env)
            assert _line(watcher, "attached ") == "attached 3"
            deadline = time.monotonic() + 60
            while not _finished(backend, 3):  # every job the watcher saw has finished
                assert time.monotonic() < deadline, "the first wave did not finish in 60 s"
                time.sleep(0.1)
            go.touch()  # only now the second wave: a watcher that stopped early has ended
            _line(submitter, "wave 2")
            assert _line(submitter, "done ") == "done 6"
            out, err = watcher.communicate(timeout=120)
            assert watcher.returncode == 0, err
            seen = json.loads(out.strip().splitlines()[-1])
            _, submitter_err = submitter.communicate(timeout=60)
            assert submitter.returncode == 0, submitter_err
        finally:
            for process in (submitter, watcher):
                if process is not None and process.poll() is None:
                    process.kill()
                    process.communicate()
        assert seen["statuses"] == ["SUCCEEDED"] * 6
        assert [json.loads(o) for o in seen["outputs"]] == [
            {"x+y": n + 1, "x*y": n} for n in range(6)
        ]
        described = backend.clients.batch.describe_job_definitions(jobDefinitionName=batch_id)
        assert {d["status"] for d in described["jobDefinitions"]} == {"INACTIVE"}
