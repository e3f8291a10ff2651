"""Submitter: SubmitJob with the environment contract, dependencies and timeout, rate-governed."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final

from pcr_sdk._private.contract import BatchLayout
from pcr_sdk._private.errors import InvalidJobSpecError, aws_call
from pcr_sdk._private.governor import RateGovernor
from pcr_sdk._private.models import MAX_DEPENDENCIES, MIN_TIMEOUT_SECONDS

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_batch.type_defs import SubmitJobRequestTypeDef

logger = logging.getLogger(__name__)

DEFAULT_SUBMIT_RATE: Final = 40.0
"""SubmitJob calls per second; AWS's quota is 50 per account and region, not raisable."""
MAX_SUBMIT_PAYLOAD_BYTES: Final = 30 * 1024
MAX_OVERRIDES_CHARS: Final = 8192
TAG_INDEX: Final = "pcr:index"
TAG_BATCH_ID: Final = "pcr:batch-id"


class Submitter:
    """Submits the jobs of one batch to one queue; never faster than its governor allows."""

    def __init__(
        self,
        batch: BatchClient,
        *,
        job_queue: str,
        bucket: str,
        layout: BatchLayout,
        job_definition: str,
        governor: RateGovernor | None = None,
    ) -> None:
        self._batch = batch
        self.job_queue = job_queue
        self.bucket = bucket
        self.layout = layout
        self.job_definition = job_definition
        self.governor = governor or RateGovernor.per_second(DEFAULT_SUBMIT_RATE)

    def request(
        self,
        index: int,
        *,
        depends_on: Sequence[str] = (),
        timeout_seconds: int | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> SubmitJobRequestTypeDef:
        """The SubmitJob request for job `index`, checked against AWS's limits."""
        if len(depends_on) > MAX_DEPENDENCIES:
            raise InvalidJobSpecError(
                f"a job may depend on at most {MAX_DEPENDENCIES} jobs, got {len(depends_on)}",
                field="depends_on",
            )
        env = {**(environment or {}), **self.layout.environment(bucket=self.bucket, index=index)}
        request: SubmitJobRequestTypeDef = {
            "jobName": self.layout.batch_id,
            "jobQueue": self.job_queue,
            "jobDefinition": self.job_definition,
            "containerOverrides": {
                "environment": [{"name": k, "value": v} for k, v in env.items()],
            },
            "tags": {TAG_BATCH_ID: self.layout.batch_id, TAG_INDEX: str(index)},
            "propagateTags": True,
        }
        if depends_on:
            request["dependsOn"] = [{"jobId": job_id} for job_id in depends_on]
        if timeout_seconds is not None:
            if timeout_seconds < MIN_TIMEOUT_SECONDS:
                raise InvalidJobSpecError(
                    f"timeout must be at least {MIN_TIMEOUT_SECONDS} s, got {timeout_seconds}",
                    field="timeout_seconds",
                )
            request["timeout"] = {"attemptDurationSeconds": timeout_seconds}
        _check_size(request)
        return request

    def submit(
        self,
        index: int,
        *,
        depends_on: Sequence[str] = (),
        timeout_seconds: int | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> str:
        """Submit job `index`; return its AWS Batch job id."""
        request = self.request(
            index, depends_on=depends_on, timeout_seconds=timeout_seconds, environment=environment
        )
        self.governor.acquire()
        with aws_call("SubmitJob", job_queue=self.job_queue):
            response = self._batch.submit_job(**request)
        job_id = response["jobId"]
        logger.debug("submitted job %d of %s as %s", index, self.layout.batch_id, job_id)
        return job_id


def _check_size(request: SubmitJobRequestTypeDef) -> None:
    overrides = len(json.dumps(request.get("containerOverrides", {}), separators=(",", ":")))
    if overrides > MAX_OVERRIDES_CHARS:
        raise InvalidJobSpecError(
            f"container overrides are {overrides} characters; ECS allows {MAX_OVERRIDES_CHARS}",
            field="environment",
        )
    payload = len(json.dumps(request, separators=(",", ":")).encode())
    if payload > MAX_SUBMIT_PAYLOAD_BYTES:
        raise InvalidJobSpecError(
            f"SubmitJob request is {payload} bytes; AWS Batch allows {MAX_SUBMIT_PAYLOAD_BYTES}",
            field="request",
        )
