"""The original PCR example worker: plain boto3, no knowledge of pcr-sdk.

Reads the job's input ({"x": 2, "y": 3}) from S3 and writes {"x+y": 5, "x*y": 6} back. It runs
unchanged on AWS Batch and on pcr-sdk's local backend (which sets AWS_ENDPOINT_URL).
"""

import json
import os

import boto3

bucket = os.environ.get("S3_JOB_BUCKET")
config_key = os.environ.get("S3_JOB_CONFIG_KEY")
output_key = os.environ.get("S3_OUTPUT_OJBECT_KEY")  # sic: the contract's spelling
if not (bucket and config_key and output_key):
    raise SystemExit("S3_JOB_BUCKET, S3_JOB_CONFIG_KEY and S3_OUTPUT_OJBECT_KEY must be set")

s3 = boto3.client("s3")
config = json.loads(s3.get_object(Bucket=bucket, Key=config_key)["Body"].read())
x, y = config["x"], config["y"]
print(f"x={x} y={y}")
s3.put_object(Bucket=bucket, Key=output_key, Body=json.dumps({"x+y": x + y, "x*y": x * y}))
