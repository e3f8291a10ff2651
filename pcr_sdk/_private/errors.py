"""The exception tree of pcr-sdk, and the one place where botocore errors are mapped onto it.

PcrError
├── PcrInputError (ValueError)                bad input, raised before any network call
│   ├── InvalidBatchNameError
│   ├── InvalidJobSpecError
│   └── UnknownDependencyError
├── JobNotFoundError (KeyError)               a job id this batch does not know
├── OutputError
│   ├── OutputNotFoundError                   output.json missing
│   └── OutputMalformedError                  output.json not UTF-8 JSON
├── BatchClosedError                          the job definition is already deregistered
├── WaitTimeoutError (TimeoutError)           wait_until_jobs_finished(timeout=...) ran out
├── WorkerEnvironmentError                    the container's environment contract is broken
└── AwsError                                  a botocore error, mapped
    ├── ThrottledError
    ├── AccessDeniedError
    ├── BucketNotFoundError
    ├── JobQueueNotFoundError
    └── AwsConnectionError
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Final

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    HTTPClientError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

logger = logging.getLogger("pcr_sdk")


class PcrError(Exception):
    """Root of every error pcr-sdk raises."""


class PcrInputError(PcrError, ValueError):
    """Input rejected before any network call."""


class InvalidBatchNameError(PcrInputError):
    """The batch name breaks the seed's rule; `reason` says which part."""

    def __init__(self, message: str, *, name: str, reason: str) -> None:
        super().__init__(message)
        self.name = name
        self.reason = reason


class InvalidJobSpecError(PcrInputError):
    """A job's input, dependencies or definition break an AWS Batch limit."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnknownDependencyError(PcrInputError):
    """A dependency names a job id this batch did not submit."""

    def __init__(self, message: str, *, job_id: str) -> None:
        super().__init__(message)
        self.job_id = job_id


class JobNotFoundError(PcrError, KeyError):
    """A job id this batch does not know."""

    def __init__(self, job_id: str, *, batch_id: str | None = None) -> None:
        super().__init__(f"job {job_id!r} is not part of batch {batch_id!r}")
        self.job_id = job_id
        self.batch_id = batch_id

    def __str__(self) -> str:  # KeyError would quote the message again
        return str(self.args[0])


class OutputError(PcrError):
    """A job's output could not be read."""

    def __init__(self, message: str, *, key: str, job_id: str | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.job_id = job_id


class OutputNotFoundError(OutputError):
    """output.json does not exist (yet): the job failed or has not finished."""


class OutputMalformedError(OutputError):
    """output.json exists but is not UTF-8 JSON."""


class BatchClosedError(PcrError):
    """The batch's job definition was deregistered; no more jobs can be submitted."""

    def __init__(self, message: str, *, batch_id: str) -> None:
        super().__init__(message)
        self.batch_id = batch_id


class WaitTimeoutError(PcrError, TimeoutError):
    """Waiting ran out of time.

    `unfinished` maps each unfinished job id to its last status; `runnable_seconds` says how
    long each job still RUNNABLE has waited for compute capacity (a queue with no capacity
    keeps jobs RUNNABLE forever).
    """

    def __init__(
        self,
        message: str,
        *,
        unfinished: dict[str, str],
        runnable_seconds: dict[str, float] | None = None,
    ) -> None:
        super().__init__(message)
        self.unfinished = unfinished
        self.runnable_seconds = runnable_seconds or {}


class WorkerEnvironmentError(PcrError):
    """The container's environment does not carry the contract's variables."""

    def __init__(self, message: str, *, missing: Sequence[str]) -> None:
        super().__init__(message)
        self.missing = tuple(missing)


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


class ThrottledError(AwsError):
    """AWS kept throttling after botocore's retries were spent."""


class AccessDeniedError(AwsError):
    """The credentials may not perform this operation."""


class BucketNotFoundError(AwsError):
    """The job bucket does not exist (or is in another partition)."""


class JobQueueNotFoundError(AwsError):
    """The job queue does not exist in this region."""


class AwsConnectionError(AwsError):
    """AWS could not be reached, or the connection broke before its answer arrived."""


_THROTTLING: Final = frozenset(
    {
        "TooManyRequestsException",
        "ThrottlingException",
        "Throttling",
        "SlowDown",
        "RequestLimitExceeded",
    }
)
_DENIED: Final = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
_NO_BUCKET: Final = frozenset({"NoSuchBucket"})


def map_client_error(
    err: ClientError | BotoCoreError,
    *,
    operation: str,
    bucket: str | None = None,
    key: str | None = None,
    job_id: str | None = None,
    job_queue: str | None = None,
) -> AwsError:
    """Translate a botocore error into the most specific `AwsError`."""
    kind: type[AwsError] = AwsError
    code: str | None = None
    text = f"{operation}: {err}"
    # HTTPClientError: the connection closed or timed out mid-call (the answer was lost)
    if isinstance(err, (EndpointConnectionError, BotoConnectionError, HTTPClientError)):
        kind = AwsConnectionError
    elif isinstance(err, ClientError):
        error = err.response.get("Error", {})
        code = error.get("Code", "")
        message = error.get("Message", "") or str(err)
        text = f"{operation} failed ({code}): {message}"
        if code in _THROTTLING:
            kind = ThrottledError
        elif code in _DENIED:
            kind = AccessDeniedError
        elif code in _NO_BUCKET:
            kind = BucketNotFoundError
        elif job_queue is not None and code == "ClientException" and "queue" in message.lower():
            kind = JobQueueNotFoundError
    return kind(
        text,
        operation=operation,
        code=code,
        bucket=bucket,
        key=key,
        job_id=job_id,
        job_queue=job_queue,
    )


@contextmanager
def aws_call(
    operation: str,
    *,
    bucket: str | None = None,
    key: str | None = None,
    job_id: str | None = None,
    job_queue: str | None = None,
) -> Iterator[None]:
    """Run one AWS call and re-raise botocore errors as pcr-sdk errors, chained."""
    try:
        yield
    except (ClientError, BotoCoreError) as err:
        raise map_client_error(
            err, operation=operation, bucket=bucket, key=key, job_id=job_id, job_queue=job_queue
        ) from err
