"""The submitting process of the crash test; the test kills it with SIGKILL at some moment.

Usage: python _crash_child.py ENDPOINT QUEUE BUCKET SEED CALLS

Starts a batch on the AWS endpoint at ENDPOINT (the local backend) and prints one JSON line for it
(``{"batch_id": ...}``), then makes CALLS submit calls chosen by SEED (submit_job, submit_job
with a dependency, submit_jobs as an array and job by job), printing after each one returns
``{"jobs": [[job_id, index, n], ...]}`` (input ``{"n": n}``). Then ``{"done": true}``, and it
waits to be killed: it never closes the batch.
"""

from __future__ import annotations

import json
import random
import sys

import boto3
from botocore.config import Config

from pcr_sdk import AwsClients, JobSubmitter, RateGovernor, SilentProgress

REGION = "eu-central-1"


def emit(message: object) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def clients(endpoint: str) -> AwsClients:
    session = boto3.Session(region_name=REGION)  # the backend's keys, from the environment
    config = Config(retries={"mode": "standard", "total_max_attempts": 8})
    return AwsClients(
        batch=session.client("batch", endpoint_url=endpoint, config=config),
        s3=session.client("s3", endpoint_url=endpoint, config=config),
        logs=session.client("logs", endpoint_url=endpoint, config=config),
    )


def main(endpoint: str, queue: str, bucket: str, seed: int, calls: int) -> None:
    rng = random.Random(seed)
    submitter = JobSubmitter(
        "crash", queue, "python:3.11", bucket, clients=clients(endpoint),
        polling_interval_seconds=0, request_throttling_milliseconds=0,
        governor=RateGovernor.per_second(1000), progress=SilentProgress(),
    )  # fmt: skip
    submitter._manifest.flush_every = 3  # some jobs in manifest chunks, the latest ones not
    emit({"batch_id": submitter.get_batch_id()})
    n = 0
    plain: list[str] = []
    for _ in range(calls):
        how = rng.choice(["one", "dependent", "array", "many"])
        if how in ("one", "dependent"):
            deps = [rng.choice(plain)] if how == "dependent" and plain else None
            ids = [submitter.submit_job({"n": n}, deps)]
            numbers = [n]
        else:
            numbers = list(range(n, n + rng.randint(2, 4)))
            ids = submitter.submit_jobs([{"n": i} for i in numbers], array=how == "array")
        n += len(numbers)
        index = {job.job_id: job.index for job in submitter.jobs}
        plain += [job_id for job_id in ids if ":" not in job_id]
        emit({"jobs": [[job_id, index[job_id], k] for job_id, k in zip(ids, numbers, strict=True)]})
    emit({"done": True})
    sys.stdin.read()  # a crash, not an exit: the test kills us


if __name__ == "__main__":
    endpoint, queue, bucket, seed, calls = sys.argv[1:6]
    main(endpoint, queue, bucket, int(seed), int(calls))
