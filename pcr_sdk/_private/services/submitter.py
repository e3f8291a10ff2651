"""Submitter: SubmitJob with the environment contract, dependencies and timeout, rate-governed."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from pcr_sdk._private.edge import hooks as calls
from pcr_sdk._private.edge.governor import RateGovernor, governor_for
from pcr_sdk._private.edge.mapping import aws_call
from pcr_sdk._private.edge.reads import BatchReads
from pcr_sdk._private.edge.resend import LostAnswerPolicy, send_once
from pcr_sdk._private.errors import InvalidJobSpecError
from pcr_sdk._private.public import public
from pcr_sdk._private.wire.facts import (
    MAX_ARRAY_SIZE,
    MAX_CONTAINER_OVERRIDES_CHARS,
    MAX_DEPENDENCIES,
    MAX_SUBMIT_PAYLOAD_BYTES,
    MIN_ARRAY_SIZE,
    MIN_TIMEOUT_SECONDS,
    TAG_ARRAY_SIZE,
    TAG_ATTEMPT,
    TAG_BATCH_ID,
    TAG_INDEX,
    TAG_SUBMISSION,
)
from pcr_sdk._private.wire.jsonio import request_bytes
from pcr_sdk._private.wire.layout import BatchLayout

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_batch.type_defs import SubmitJobRequestTypeDef

logger = logging.getLogger(__name__)


@public("pcr_sdk.advanced")
class Submitter:
    """Submits the jobs of one batch to one queue; never faster than its governor allows.

    SubmitJob has no idempotency token: after a lost answer the job is looked up by the
    `pcr:submission` tag each request carries before it is sent again (`LostAnswerPolicy`).

    Args:
        batch: the AWS Batch client.
        job_queue: the queue the jobs go to.
        bucket: the job bucket (named in each job's environment).
        layout: the batch's layout (its id names the jobs).
        job_definition: the registered job definition's ARN or `name:revision`.
        governor: the SubmitJob rate governor (default: the process's one for the client's
            region and endpoint).
        lost_answers: how to look for a job whose SubmitJob answer was lost (default: as many
            attempts as the client's retries).
        token_factory: makes each request's `pcr:submission` tag, for tests.
    """

    def __init__(
        self,
        batch: BatchClient,
        *,
        job_queue: str,
        bucket: str,
        layout: BatchLayout,
        job_definition: str,
        governor: RateGovernor | None = None,
        lost_answers: LostAnswerPolicy | None = None,
        token_factory: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self._batch = batch
        self._token = token_factory
        self.job_queue = job_queue
        self.bucket = bucket
        self.layout = layout
        self.job_definition = job_definition
        self.governor = governor_for(batch, governor)
        self.lost_answers = lost_answers or LostAnswerPolicy(attempts=calls.max_attempts(batch))
        self._reads = BatchReads(
            batch, acquire=self.governor.acquire, throttle_listener=self.governor
        )

    def request(
        self,
        index: int,
        *,
        depends_on: Sequence[str] = (),
        timeout_seconds: int | None = None,
        environment: Mapping[str, str] | None = None,
        attempt: int = 1,
    ) -> SubmitJobRequestTypeDef:
        """The SubmitJob request for job `index`, checked against AWS's limits; a rerun
        (`attempt` > 1) is tagged `pcr:attempt`, its environment is the first attempt's.

        Args:
            index: the job's index.
            depends_on: ids of the jobs it waits for (at most 20).
            timeout_seconds: the attempt's time limit, at least 60 (None: the definition's).
            environment: extra environment variables (pcr-sdk's own variables win).
            attempt: 1 for the first submission, 2, 3, ... for reruns.

        Returns:
            The request, not sent.

        Raises:
            InvalidJobSpecError: the request breaks an AWS Batch limit.
        """
        contract = self.layout.environment(bucket=self.bucket, index=index)
        tags = {TAG_INDEX: str(index), **_attempt_tag(attempt)}
        return self._request(contract, tags, depends_on, timeout_seconds, environment)

    def array_request(  # noqa: DOC101, DOC103 - "as for `request`"
        self,
        base_index: int,
        size: int,
        *,
        depends_on: Sequence[str] = (),
        timeout_seconds: int | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> SubmitJobRequestTypeDef:
        """The SubmitJob request for an array of `size` children, jobs base_index.. of the batch.
        `depends_on`, `timeout_seconds` and `environment` are as for `request`.

        Args:
            base_index: the job index of child 0.
            size: the number of children (2 to 10,000).

        Returns:
            The request, not sent.

        Raises:
            InvalidJobSpecError: `size` or the request breaks an AWS Batch limit.
        """
        _check_array_size(size)
        contract = self.layout.array_environment(bucket=self.bucket, base_index=base_index)
        tags = {TAG_INDEX: str(base_index), TAG_ARRAY_SIZE: str(size)}
        request = self._request(contract, tags, depends_on, timeout_seconds, environment)
        request["arrayProperties"] = {"size": size}
        return request

    def indexed_array_request(  # noqa: DOC101, DOC103 - "as for `request`"
        self,
        inputs_key: str,
        size: int,
        *,
        attempt: int,
        depends_on: Sequence[str] = (),
        timeout_seconds: int | None = None,
    ) -> SubmitJobRequestTypeDef:
        """The SubmitJob request for a rerun array whose packed inputs at `inputs_key` map each
        child to its job index (worker contract 2; no `pcr:index` tag: the table says).
        `depends_on` and `timeout_seconds` are as for `request`.

        Args:
            inputs_key: the key of the indexed pack (`InputStore.put_indexed_inputs`).
            size: the number of children (2 to 10,000).
            attempt: the rerun's attempt number (tagged `pcr:attempt` when above 1).

        Returns:
            The request, not sent.

        Raises:
            InvalidJobSpecError: `size` or the request breaks an AWS Batch limit.
        """
        _check_array_size(size)
        contract = self.layout.indexed_array_environment(bucket=self.bucket, inputs_key=inputs_key)
        tags = {TAG_ARRAY_SIZE: str(size), **_attempt_tag(attempt)}
        request = self._request(contract, tags, depends_on, timeout_seconds, None)
        request["arrayProperties"] = {"size": size}
        return request

    def submit(  # noqa: DOC101, DOC103 - "as for `request`"
        self,
        index: int,
        *,
        depends_on: Sequence[str] = (),
        timeout_seconds: int | None = None,
        environment: Mapping[str, str] | None = None,
        attempt: int = 1,
    ) -> str:
        """Submit job `index` (attempt `attempt`): `request`, then `send`.

        Args: as for `request`.

        Returns:
            The job's AWS Batch job id.

        Raises:
            InvalidJobSpecError: the request breaks an AWS Batch limit.
            AwsError: SubmitJob failed.
        """
        request = self.request(
            index, depends_on=depends_on, timeout_seconds=timeout_seconds,
            environment=environment, attempt=attempt,
        )  # fmt: skip
        return self.send(request)

    def submit_array(  # noqa: DOC101, DOC103 - "as for `array_request`"
        self,
        base_index: int,
        size: int,
        *,
        depends_on: Sequence[str] = (),
        timeout_seconds: int | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> str:
        """Submit an array job whose child i is job base_index + i: `array_request`, then `send`.

        Args: as for `array_request`.

        Returns:
            The array (parent) job's id; child i is `<id>:<i>`.

        Raises:
            InvalidJobSpecError: `size` or the request breaks an AWS Batch limit.
            AwsError: SubmitJob failed.
        """
        request = self.array_request(
            base_index,
            size,
            depends_on=depends_on,
            timeout_seconds=timeout_seconds,
            environment=environment,
        )
        return self.send(request)

    def send(self, request: SubmitJobRequestTypeDef) -> str:
        """One governed SubmitJob; after an ambiguous failure, find the job before resending.

        Args:
            request: a request from `request`, `array_request` or `indexed_array_request`.

        Returns:
            The new job's id.

        Raises:
            AwsError: SubmitJob failed (after a lost answer: the job was not found either).
        """
        token = self._token()
        request = {**request, "tags": {**request.get("tags", {}), TAG_SUBMISSION: token}}

        def send() -> str:
            self.governor.acquire()
            with (
                calls.scope(no_blind_retry=True, throttle_listener=self.governor),
                aws_call("SubmitJob", job_queue=self.job_queue),
            ):
                job_id = self._batch.submit_job(**request)["jobId"]
            logger.debug("submitted %s of %s as %s", request["tags"], self.layout.batch_id, job_id)
            return job_id

        return send_once(
            send,
            lambda: self.find_by_token(token),
            operation="SubmitJob",
            policy=self.lost_answers,
            job_queue=self.job_queue,
        )

    def find_by_token(self, token: str) -> str | None:
        """The id of this batch's job tagged with `token`, if AWS Batch lists it.

        Reads ListJobs newest first (AWS's order for a name filter) a page at a time and stops
        at the first match: a lost answer is almost always about the newest job.

        Args:
            token: the `pcr:submission` tag of the request.

        Returns:
            The job's id, or None if no job of the batch carries the tag.
        """
        for details in self._reads.named(self.job_queue, self.layout.batch_id):
            for detail in details:
                if detail.get("tags", {}).get(TAG_SUBMISSION) == token:
                    return detail["jobId"]
        return None

    def terminate(self, job_id: str, reason: str) -> None:
        """TerminateJob: stops the job in any unfinished state (an array: all its children).

        Args:
            job_id: the job (or array parent) to stop.
            reason: recorded by AWS Batch on the job.

        Raises:
            AwsError: TerminateJob failed.
        """
        self.governor.acquire()
        with (
            calls.scope(throttle_listener=self.governor),
            aws_call("TerminateJob", job_id=job_id),
        ):
            self._batch.terminate_job(jobId=job_id, reason=reason)

    def _request(
        self,
        contract: Mapping[str, str],
        tags: Mapping[str, str],
        depends_on: Sequence[str],
        timeout_seconds: int | None,
        environment: Mapping[str, str] | None,
    ) -> SubmitJobRequestTypeDef:
        if len(depends_on) > MAX_DEPENDENCIES:
            raise InvalidJobSpecError(
                f"a job may depend on at most {MAX_DEPENDENCIES} jobs, got {len(depends_on)}",
                field="depends_on",
            )
        env = {**(environment or {}), **contract}
        request: SubmitJobRequestTypeDef = {
            "jobName": self.layout.batch_id,
            "jobQueue": self.job_queue,
            "jobDefinition": self.job_definition,
            "containerOverrides": {
                "environment": [{"name": k, "value": v} for k, v in env.items()],
            },
            "tags": {TAG_BATCH_ID: self.layout.batch_id, **tags},
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


def _attempt_tag(attempt: int) -> dict[str, str]:
    if attempt < 1:
        raise InvalidJobSpecError(f"attempt must be >= 1, got {attempt}", field="attempt")
    return {TAG_ATTEMPT: str(attempt)} if attempt > 1 else {}


def _check_size(request: SubmitJobRequestTypeDef) -> None:
    overrides = len(json.dumps(request.get("containerOverrides", {}), separators=(",", ":")))
    if overrides > MAX_CONTAINER_OVERRIDES_CHARS:
        raise InvalidJobSpecError(
            f"container overrides are {overrides} characters; "
            f"ECS allows {MAX_CONTAINER_OVERRIDES_CHARS}",
            field="environment",
        )
    payload = request_bytes(request)
    if payload > MAX_SUBMIT_PAYLOAD_BYTES:
        raise InvalidJobSpecError(
            f"SubmitJob request is {payload} bytes; AWS Batch allows {MAX_SUBMIT_PAYLOAD_BYTES}",
            field="request",
        )


def _check_array_size(size: int) -> None:
    if not MIN_ARRAY_SIZE <= size <= MAX_ARRAY_SIZE:
        raise InvalidJobSpecError(
            f"an array job has {MIN_ARRAY_SIZE}..{MAX_ARRAY_SIZE} children, got {size}",
            field="size",
        )
