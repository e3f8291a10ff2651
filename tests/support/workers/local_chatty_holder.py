"""Holds a LocalBackend, runs a job printing LINES lines, reports this process's RSS growth.

Prints one JSON object: VmRSS in KiB after a warm-up job and after the chatty job (its log
tail read back through CloudWatch Logs), that tail, and the top-level modules imported.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from pcr_sdk.local import LocalBackend

CHATTY = """
import os, sys
lines, long_line = int(sys.argv[1]), int(sys.argv[2])
for start in range(0, lines, 10_000):
    os.write(1, "".join(f"line {n}\\n" for n in range(start, min(start + 10_000, lines))).encode())
os.write(1, b"x" * long_line + b"\\ndone\\n")
"""


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def run_job(backend: LocalBackend, definition: str, lines: int, long_line: int) -> Any:
    batch = backend.clients.batch
    command = [sys.executable, "-c", CHATTY, str(lines), str(long_line)]
    job_id = batch.submit_job(
        jobName="chatty",
        jobQueue=backend.queue,
        jobDefinition=definition,
        containerOverrides={"command": command},
    )["jobId"]
    deadline = time.monotonic() + 120
    while True:
        job = batch.describe_jobs(jobs=[job_id])["jobs"][0]
        if job["status"] in ("SUCCEEDED", "FAILED") or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


def main() -> None:
    lines = int(sys.argv[1])
    with LocalBackend(vcpus=1, memory_mib=1024) as backend:
        definition = backend.clients.batch.register_job_definition(
            jobDefinitionName="chatty",
            type="container",
            containerProperties={"image": "python", "vcpus": 1, "memory": 256},
        )["jobDefinitionArn"]
        run_job(backend, definition, lines // 10, 1000)  # warm-up: threads, imports, buffers
        before = rss_kib()
        job = run_job(backend, definition, lines, 600_000)
        tail = backend.clients.logs.get_log_events(
            logGroupName="/aws/batch/job", logStreamName=job["container"]["logStreamName"], limit=5
        )["events"]
        after = rss_kib()
        report = {
            "status": job["status"],
            "before_kib": before,
            "after_kib": after,
            "tail": [event["message"] for event in tail],
            "imported": sorted({name.split(".")[0] for name in sys.modules}),
        }
        sys.stdout.write(json.dumps(report) + "\n")


if __name__ == "__main__":
    main()
