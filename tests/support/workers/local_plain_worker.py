"""The original PCR example worker: plain boto3, no pcr-sdk, reads the contract variables."""

import json
import os

import boto3

bucket = os.environ.get("S3_JOB_BUCKET")
config_key = os.environ.get("S3_JOB_CONFIG_KEY")
output_key = os.environ.get("S3_OUTPUT_OJBECT_KEY")

s3 = boto3.client("s3")
# The original passes os.environ.get's Optional values straight to boto3, so must this copy.
response = s3.get_object(Bucket=bucket, Key=config_key)  # type: ignore[arg-type] # as the original
config = json.loads(response["Body"].read())
result = {"x+y": config["x"] + config["y"], "x*y": config["x"] * config["y"]}
s3.put_object(Bucket=bucket, Key=output_key, Body=json.dumps(result).encode())  # type: ignore[arg-type] # as the original
