"""The exception tree of pcr-sdk, and the one place where botocore errors are mapped onto it.

PcrError
├── PcrInputError (ValueError)                bad input, raised before any network call
│   ├── InvalidBatchNameError
│   ├── InvalidJobSpecError
│   └── UnknownDependencyError
├── JobNotFoundError (KeyError)               a job id this batch does not know
├── OutputError
│   ├── OutputNotFoundError                   output.json missing
│   └── OutputMalformedError                  output.json not UTF-8 JSON (or not the model)
├── BatchClosedError                          the job definition is already deregistered
├── RerunLeaseHeldError                       another process holds the batch's rerun lease
├── WaitTimeoutError (TimeoutError)           wait_until_jobs_finished(timeout=...) ran out
├── WorkerEnvironmentError                    the container's environment contract is broken
│   └── WorkerContractError                   the job needs a newer pcr_sdk.worker
├── ManifestError                             a manifest chunk cannot be read
│   └── ManifestVersionError                  written by a newer pcr-sdk
├── PackError (ValueError)                    an array's packed inputs are corrupt
└── AwsError                                  a botocore error, mapped
    ├── ThrottledError
    ├── AccessDeniedError
    ├── BucketNotFoundError
    ├── JobQueueNotFoundError
    ├── AwsConnectionError
    └── CredentialsError                      no credentials, or they cannot be used
        └── CredentialsExpiredError           temporary credentials ran out

Every public call of pcr-sdk raises nothing else (besides the caller's own exceptions, from
callbacks, and KeyboardInterrupt). botocore's errors are mapped onto this tree in one place,
`pcr_sdk._private.edge.mapping.aws_call`, around every AWS call (a test holds every call site
to it). This module imports only the standard library: the worker's side loads it too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pcr_sdk._private.public import public

logger = logging.getLogger("pcr_sdk")


@public("pcr_sdk")
class PcrError(Exception):
    """Root of every error pcr-sdk raises."""


@public("pcr_sdk")
class PcrInputError(PcrError, ValueError):
    """Input rejected before any network call."""


@public("pcr_sdk")
class InvalidBatchNameError(PcrInputError):
    """The batch name breaks the seed's rule; `reason` says which part."""

    def __init__(self, message: str, *, name: str, reason: str) -> None:
        super().__init__(message)
        self.name = name
        self.reason = reason


@public("pcr_sdk")
class InvalidJobSpecError(PcrInputError):
    """A job's input, dependencies or definition break an AWS Batch limit."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@public("pcr_sdk")
class UnknownDependencyError(PcrInputError):
    """A dependency names a job id this batch did not submit."""

    def __init__(self, message: str, *, job_id: str) -> None:
        super().__init__(message)
        self.job_id = job_id


@public("pcr_sdk")
class JobNotFoundError(PcrError, KeyError):
    """A job id this batch does not know."""

    def __init__(self, job_id: str, *, batch_id: str | None = None) -> None:
        super().__init__(f"job {job_id!r} is not part of batch {batch_id!r}")
        self.job_id = job_id
        self.batch_id = batch_id

    def __str__(self) -> str:  # KeyError would quote the message again
        return str(self.args[0])


@public("pcr_sdk")
class OutputError(PcrError):
    """A job's output could not be read; `index` is the job's index in its batch, if known."""

    def __init__(
        self, message: str, *, key: str, job_id: str | None = None, index: int | None = None
    ) -> None:
        super().__init__(message)
        self.key = key
        self.job_id = job_id
        self.index = index


@public("pcr_sdk")
class OutputNotFoundError(OutputError):
    """output.json does not exist (yet): the job failed or has not finished."""


@public("pcr_sdk")
class OutputMalformedError(OutputError):
    """output.json exists but is not UTF-8 JSON, or does not validate against the model asked
    for (`get_outputs(Model)`)."""


@public("pcr_sdk")
class BatchClosedError(PcrError):
    """The batch's job definition was deregistered; no more jobs can be submitted."""

    def __init__(self, message: str, *, batch_id: str) -> None:
        super().__init__(message)
        self.batch_id = batch_id


@public("pcr_sdk")
class RerunLeaseHeldError(PcrError):
    """Another process holds the batch's rerun lease: one process reruns a batch at a time.

    `holder` says who (user, host, process and session); `expires_at` is when the lease runs
    out by S3's clock unless its holder renews it (a live holder renews it every minute or so;
    `pcr retry --break-lease` breaks a stale one).
    """

    def __init__(self, message: str, *, batch_id: str, holder: str, expires_at: datetime) -> None:
        super().__init__(message)
        self.batch_id = batch_id
        self.holder = holder
        self.expires_at = expires_at


@public("pcr_sdk")
class WaitTimeoutError(PcrError, TimeoutError):
    """Waiting ran out of time.

    `unfinished` maps each unfinished job id to its last status; `runnable_seconds` says how
    long each job still RUNNABLE has waited for compute capacity (a queue with no capacity
    keeps jobs RUNNABLE forever); `blocked` names the RUNNABLE jobs AWS Batch says cannot start
    (e.g. no compute environment fits their vCPUs, memory or GPUs), with AWS's reason.
    """

    def __init__(
        self,
        message: str,
        *,
        unfinished: dict[str, str],
        runnable_seconds: dict[str, float] | None = None,
        blocked: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.unfinished = unfinished
        self.runnable_seconds = runnable_seconds or {}
        self.blocked = blocked or {}


@public("pcr_sdk")
class WorkerEnvironmentError(PcrError):
    """The container's environment does not carry the contract's variables."""

    def __init__(self, message: str, *, missing: Sequence[str]) -> None:
        super().__init__(message)
        self.missing = tuple(missing)


@public("pcr_sdk")
class WorkerContractError(WorkerEnvironmentError):
    """The job needs a worker-contract version this `pcr_sdk.worker` does not honour."""

    def __init__(self, message: str, *, required: str, supported: int) -> None:
        super().__init__(message, missing=())
        self.required = required
        self.supported = supported


@public("pcr_sdk")
class ManifestError(PcrError):
    """A chunk of a batch's manifest (its durable job list in S3) cannot be read."""

    def __init__(self, message: str, *, key: str) -> None:
        super().__init__(message)
        self.key = key


@public("pcr_sdk")
class ManifestVersionError(ManifestError):
    """A manifest chunk was written by a newer pcr-sdk: upgrade to read this batch."""

    def __init__(self, message: str, *, key: str, version: object) -> None:
        super().__init__(message, key=key)
        self.version = version


@public("pcr_sdk")
class PackError(PcrError, ValueError):
    """The object is not a pcr-sdk pack, or the index is outside it."""


@public("pcr_sdk")
class AwsError(PcrError):
    """An AWS call failed; `code` is AWS's error code, `operation` the API operation."""

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        code: str | None = None,
        bucket: str | None = None,
        key: str | None = None,
        job_id: str | None = None,
        job_queue: str | None = None,
    ) -> None:
        super().__init__(message)
        self.operation = operation
        self.code = code
        self.bucket = bucket
        self.key = key
        self.job_id = job_id
        self.job_queue = job_queue


@public("pcr_sdk")
class ThrottledError(AwsError):
    """AWS kept throttling after botocore's retries were spent."""


@public("pcr_sdk")
class AccessDeniedError(AwsError):
    """The credentials may not perform this operation."""


@public("pcr_sdk")
class BucketNotFoundError(AwsError):
    """The job bucket does not exist (or is in another partition)."""


@public("pcr_sdk")
class JobQueueNotFoundError(AwsError):
    """The job queue does not exist in this region."""


@public("pcr_sdk")
class AwsConnectionError(AwsError):
    """AWS could not be reached, or the connection broke before its answer arrived."""


@public("pcr_sdk")
class CredentialsError(AwsError):
    """No AWS credentials were found, or they could not be loaded."""


@public("pcr_sdk")
class CredentialsExpiredError(CredentialsError):
    """Temporary credentials (STS, SSO) ran out; nothing of the batch is lost.

    The jobs keep running in AWS Batch. Renew the credentials, then resume with
    `JobSubmitter.attach(batch_id, ...)` or `pcr wait BATCH_ID`. A session with refreshable
    credentials (an SSO profile, or a role that botocore assumes itself) avoids this.
    """

    def __init__(self, message: str, *, batch_id: str | None = None, **context: Any) -> None:
        super().__init__(message, **context)
        self.batch_id = batch_id
