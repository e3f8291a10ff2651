"""Holds a LocalBackend whose one job starts processes that try to escape, then waits.

argv: <pid file>. The job (`ESCAPER`) logs "<job> <child> <setsid child> <daemon>": a child in
its session, a child in a session of its own, and a daemon (double fork, new session, empty
environment, its parent gone at once). This script writes that line to the pid file once it
appears; the test SIGKILLs this process and checks that none of the pids survives.
"""

import sys
import threading
from pathlib import Path

from pcr_sdk.local import LocalBackend

ESCAPER = """
import os, subprocess, sys, time
child = subprocess.Popen(["sleep", "600"])
session = subprocess.Popen(["sleep", "601"], start_new_session=True)
read, write = os.pipe()
subprocess.run(
    ["/bin/sh", "-c", f"setsid sleep 602 </dev/null >/dev/null 2>&1 & echo $! >&{write}"],
    pass_fds=(write,), env={"PATH": os.environ["PATH"]}, check=True,
)
os.close(write)
daemon = int(os.read(read, 64))
print(os.getpid(), child.pid, session.pid, daemon, flush=True)
time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 600)
"""
"""A job whose processes try to outlive it; argv[1]: how long it sleeps before exiting."""

if __name__ == "__main__":
    pid_file = Path(sys.argv[1])
    with LocalBackend([sys.executable, "-c", ESCAPER]) as local:
        batch = local.clients.batch
        arn = batch.register_job_definition(
            jobDefinitionName="held", type="container", containerProperties={"image": "i"}
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
