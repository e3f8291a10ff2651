"""Helpers for testing the mocked-AWS harness with raw boto3 calls."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pcr_sdk._private.wire.layout import BatchLayout
from pcr_sdk.testing import MotoWorld

if TYPE_CHECKING:
    from mypy_boto3_batch.type_defs import JobDetailTypeDef


@dataclass
class Jobs:
    """Submits contract-shaped jobs of one batch straight through `world.clients`."""

    world: MotoWorld
    definition: str
    layout: BatchLayout

    def submit(
        self,
        index: int,
        data: object = None,
        *,
        depends_on: Sequence[str] = (),
        name: str | None = None,
    ) -> str:
        """Put job `index`'s config.json (unless `data` is None), submit it, return its id."""
        clients = self.world.clients
        if data is not None:
            clients.s3.put_object(
                Bucket=self.world.bucket,
                Key=self.layout.config_key(index),
                Body=json.dumps(data).encode(),
            )
        environment = self.layout.environment(bucket=self.world.bucket, index=index)
        response = clients.batch.submit_job(
            jobName=name or f"{self.layout.batch_id}-{index}",
            jobQueue=self.world.queue,
            jobDefinition=self.definition,
            containerOverrides={
                "environment": [{"name": k, "value": v} for k, v in environment.items()]
            },
            dependsOn=[{"jobId": job_id, "type": "SEQUENTIAL"} for job_id in depends_on],
        )
        return response["jobId"]

    def describe(self, *job_ids: str) -> list[JobDetailTypeDef]:
        """One DescribeJobs call (which moves each of the jobs one step)."""
        return self.world.clients.batch.describe_jobs(jobs=list(job_ids))["jobs"]

    def status(self, job_id: str) -> str:
        return self.describe(job_id)[0]["status"]

    def listed(self) -> list[str]:
        """Every job of the batch in ListJobs (which moves nothing), oldest first."""
        pages = self.world.clients.batch.get_paginator("list_jobs").paginate(
            jobQueue=self.world.queue,
            filters=[{"name": "JOB_NAME", "values": [f"{self.layout.batch_id}*"]}],
        )
        newest_first = [job["jobId"] for page in pages for job in page["jobSummaryList"]]
        return newest_first[::-1]

    def output(self, index: int) -> object:
        body = self.world.clients.s3.get_object(
            Bucket=self.world.bucket, Key=self.layout.output_key(index)
        )["Body"].read()
        return json.loads(body)
