"""The job container of `pcr demo`: sums of squares, and sums of other jobs' sums.

A plain boto3 worker of the original contract (bucket, config key and output key from the
environment). It imports nothing but the standard library and boto3, so that each job process
starts fast; `pcr demo` runs it by path for the same reason (``python -m
pcr_sdk.cli._demo_worker`` works too, but imports the whole `pcr_sdk` package first).

Inputs:

- ``{"task": "squares", "first": a, "last": b}`` -> ``{"sum": a*a + ... + b*b, "terms": b-a+1}``
- ``{"task": "sum", "keys": [k1, k2, ...]}`` -> the sums and terms of the outputs at those keys
  of the job bucket (the outputs of the jobs this one depends on).
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def compute(task: dict[str, Any], s3: S3Client, bucket: str) -> dict[str, int]:
    """The output of one demo task."""
    kind = task.get("task")
    if kind == "squares":
        first, last = int(task["first"]), int(task["last"])
        return {"sum": sum(i * i for i in range(first, last + 1)), "terms": last - first + 1}
    if kind == "sum":
        total = terms = 0
        for key in task["keys"]:
            part = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            total += int(part["sum"])
            terms += int(part["terms"])
        return {"sum": total, "terms": terms}
    raise ValueError(f"unknown task {kind!r}")


def main() -> None:
    """Read the job's input from S3, compute, write output.json."""
    bucket = os.environ.get("S3_JOB_BUCKET", "")
    config_key = os.environ.get("S3_JOB_CONFIG_KEY", "")
    output_key = os.environ.get("S3_OUTPUT_OJBECT_KEY", "")
    if not (bucket and config_key and output_key):
        sys.exit("S3_JOB_BUCKET, S3_JOB_CONFIG_KEY and S3_OUTPUT_OJBECT_KEY must be set")
    s3 = boto3.client("s3")
    task = json.loads(s3.get_object(Bucket=bucket, Key=config_key)["Body"].read())
    result = compute(task, s3, bucket)
    s3.put_object(
        Bucket=bucket,
        Key=output_key,
        Body=json.dumps(result).encode(),
        ContentType="application/json",
    )
    print(f"{task.get('task')}: {result}")


if __name__ == "__main__":
    main()
