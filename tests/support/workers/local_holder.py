"""Holds a LocalBackend with one running job, writes the job's process ids, then waits.

argv: <pid file>. The job is a Python process that starts a grandchild (`sleep`) and logs
"<job pid> <grandchild pid>"; this script writes that line to the pid file once it appears.
The test SIGKILLs this process and checks that neither pid survives.
"""

import sys
import threading
from pathlib import Path

from pcr_sdk.local import LocalBackend

JOB = """
import os, subprocess, time
child = subprocess.Popen(["sleep", "600"])
print(os.getpid(), child.pid, flush=True)
time.sleep(600)
"""


def hold(pid_file: Path, command: list[str]) -> None:
    """Run one job of `command` on a backend, write its first log line to `pid_file`, wait."""
    with LocalBackend(command) as local:
        batch = local.clients.batch
        arn = batch.register_job_definition(
            jobDefinitionName="held",
            type="container",
            containerProperties={"image": "i", "vcpus": 1, "memory": 16},
        )["jobDefinitionArn"]
        job_id = batch.submit_job(jobName="held", jobQueue=local.queue, jobDefinition=arn)["jobId"]
        pause = threading.Event()
        while True:
            job = batch.describe_jobs(jobs=[job_id])["jobs"][0]
            stream = job["container"].get("logStreamName")
            if stream is not None:
                events = local.clients.logs.get_log_events(
                    logGroupName="/aws/batch/job", logStreamName=stream
                )["events"]
                if events:
                    pid_file.write_text(events[0]["message"])
                    break
            pause.wait(0.05)
        pause.wait(600)  # until the test kills this process


if __name__ == "__main__":
    hold(Path(sys.argv[1]), [sys.executable, "-c", JOB])
