"""SIGKILL the process holding a local account mid-batch, then open the account again: the
interrupted jobs are FAILED with a reason, or on their next attempt, nothing is RUNNING, and
every object written before the kill (by the holder's client and by the jobs) is there."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Final

import pytest

from pcr_sdk.local import LocalAccount, LocalBackend
from tests.support.local import Kit

pytestmark = [
    pytest.mark.subprocess,
    pytest.mark.skipif(sys.platform != "linux", reason="SIGKILL and /proc"),
]

JOB: Final = """
import os, time, boto3
attempt = os.environ["AWS_BATCH_JOB_ATTEMPT"]
boto3.client("s3").put_object(
    Bucket="kill", Key=f"from-job/{os.environ['AWS_BATCH_JOB_ID']}/{attempt}", Body=b"j")
if attempt == "1" and os.environ.get("SLEEP"):
    print("first attempt, sleeping", flush=True)
    time.sleep(600)
print("attempt", attempt)
"""
HOLDER: Final = """
import json, sys, time
from pcr_sdk.local import LocalBackend

directory, job = sys.argv[1], sys.argv[2]
with LocalBackend({"img": [sys.executable, "-c", job]}, data_dir=directory, bucket="kill",
                  max_parallel=2) as backend:
    s3, batch = backend.clients.s3, backend.clients.batch
    for i in range(20):
        s3.put_object(Bucket="kill", Key=f"before/{i}", Body=str(i).encode())
    arn = batch.register_job_definition(
        jobDefinitionName="kill", type="container",
        containerProperties={"image": "img", "vcpus": 1, "memory": 128})["jobDefinitionArn"]
    submit = lambda **extra: batch.submit_job(
        jobName="kill", jobQueue="pcr-local", jobDefinition=arn, **extra)["jobId"]
    sleep = {"environment": [{"name": "SLEEP", "value": "1"}]}
    retried = submit(retryStrategy={"attempts": 2}, containerOverrides=sleep)
    once = submit(containerOverrides=sleep)
    after = submit(dependsOn=[{"jobId": once}])
    queued = submit()  # RUNNABLE: max_parallel=2 keeps it waiting
    ids = {"retried": retried, "once": once, "after": after, "queued": queued}
    while True:
        jobs = batch.describe_jobs(jobs=[retried, once])["jobs"]
        written = s3.list_objects_v2(Bucket="kill", Prefix="from-job/")["KeyCount"]
        if {j["status"] for j in jobs} == {"RUNNING"} and written == 2:
            break
        time.sleep(0.05)
    print(json.dumps(ids), flush=True)
    time.sleep(600)
"""


def test_sigkill_the_holder_mid_batch_then_open_the_account_again(tmp_path: Path) -> None:
    directory = tmp_path / "account"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOLDER), str(directory), JOB],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        ids = json.loads(holder.stdout.readline())
        os.kill(holder.pid, signal.SIGKILL)
        assert holder.wait(timeout=30) == -signal.SIGKILL
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    assert (directory / "endpoint").is_file()  # the killed holder could not take it back
    assert LocalAccount(directory).holder() is None  # ... but its lock went with it

    with LocalBackend.reopen(directory, run_jobs=False) as reading:
        kit = Kit(reading)
        jobs = {name: kit.describe(job_id) for name, job_id in ids.items()}
        s3 = reading.clients.s3
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket="kill")["Contents"]}
    assert not {j["status"] for j in jobs.values()} & {"STARTING", "RUNNING"}
    assert jobs["once"]["status"] == "FAILED"
    reason = jobs["once"]["statusReason"]
    assert reason.startswith("Host EC2 (instance i-")
    assert f"The local backend holding the job (process {holder.pid}) ended" in reason
    assert "exitCode" not in jobs["once"]["attempts"][0]["container"]
    assert jobs["after"]["statusReason"] == "Dependent Job failed"
    assert jobs["retried"]["status"] == "RUNNABLE"  # its next attempt, once jobs run again
    assert jobs["retried"]["attempts"][0]["statusReason"].startswith("Host EC2")
    assert jobs["queued"]["status"] == "RUNNABLE"
    assert {f"before/{i}" for i in range(20)} <= keys
    assert {f"from-job/{ids['retried']}/1", f"from-job/{ids['once']}/1"} <= keys

    with LocalBackend.reopen(directory) as running:
        kit = Kit(running)
        done = kit.wait([ids["retried"], ids["queued"]], timeout=60)
    assert {j["status"] for j in done.values()} == {"SUCCEEDED"}
    assert len(done[ids["retried"]]["attempts"]) == 2
