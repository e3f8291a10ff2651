"""A faithful sequential re-implementation of the seed's JobSubmitter algorithm (CONTRACT.md).

Used only as the benchmark's reference: two sequential calls per job (PutObject, SubmitJob),
DescribeJobs of every unfinished job in chunks of 100 with a sleep before each request, and
outputs read one by one.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_s3 import S3Client


class SeedJobSubmitter:
    """The seed's behaviour, minus its printing."""

    def __init__(
        self,
        batch_name: str,
        job_queue: str,
        container: str,
        job_bucket: str,
        *,
        batch: BatchClient,
        s3: S3Client,
        polling_interval_seconds: float = 60,
        request_throttling_milliseconds: float = 200,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.batch_id = f"{batch_name}_{uuid.uuid4()}"
        self.job_queue = job_queue
        self.job_bucket = job_bucket
        self.batch = batch
        self.s3 = s3
        self.polling_interval_seconds = polling_interval_seconds
        self.request_throttling_milliseconds = request_throttling_milliseconds
        self.sleep = sleep
        self.job_ids: list[str] = []
        self.finished: set[str] = set()
        self.batch.register_job_definition(
            jobDefinitionName=self.batch_id,
            type="container",
            containerProperties={
                "image": container,
                "resourceRequirements": [
                    {"type": "VCPU", "value": "4"},
                    {"type": "MEMORY", "value": "1024"},
                ],
            },
            timeout={"attemptDurationSeconds": 20 * 3600},
        )

    def prefix(self, index: int) -> str:
        return f"jobs/{self.batch_id}/{index:06d}"

    def submit_job(
        self, input_data: dict[str, Any], depends_on_job_ids: list[str] | None = None
    ) -> str:
        prefix = self.prefix(len(self.job_ids))
        self.s3.put_object(
            Bucket=self.job_bucket, Key=f"{prefix}/config.json", Body=json.dumps(input_data)
        )
        env = {
            "S3_JOB_BUCKET": self.job_bucket,
            "S3_JOB_CONFIG_KEY": f"{prefix}/config.json",
            "S3_JOB_PREFIX": prefix,
            "S3_OUTPUT_OJBECT_KEY": f"{prefix}/output.json",
            "BATCH_ID": self.batch_id,
        }
        response = self.batch.submit_job(
            jobName=self.batch_id,
            jobQueue=self.job_queue,
            jobDefinition=self.batch_id,
            containerOverrides={"environment": [{"name": k, "value": v} for k, v in env.items()]},
            dependsOn=[{"jobId": j, "type": "SEQUENTIAL"} for j in depends_on_job_ids or []],
            timeout={"attemptDurationSeconds": 20 * 3600},
        )
        self.job_ids.append(response["jobId"])
        return response["jobId"]

    def wait_until_jobs_finished(self) -> int:
        """Returns the number of polling cycles."""
        cycles = 0
        while len(self.finished) < len(self.job_ids):
            self.sleep(self.polling_interval_seconds)
            cycles += 1
            unfinished = [j for j in self.job_ids if j not in self.finished]
            for start in range(0, len(unfinished), 100):
                self.sleep(self.request_throttling_milliseconds / 1000)
                described = self.batch.describe_jobs(jobs=unfinished[start : start + 100])
                for job in described["jobs"]:
                    if job["status"] in ("SUCCEEDED", "FAILED"):
                        self.finished.add(job["jobId"])
        self.batch.deregister_job_definition(jobDefinition=self.batch_id)
        return cycles

    def get_all_outputs(self) -> list[str | None]:
        outputs: list[str | None] = []
        for index in range(len(self.job_ids)):
            try:
                body = self.s3.get_object(
                    Bucket=self.job_bucket, Key=f"{self.prefix(index)}/output.json"
                )["Body"].read()
                outputs.append(body.decode())
            except ClientError:
                outputs.append(None)
        return outputs
