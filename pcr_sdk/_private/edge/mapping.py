"""The one place where botocore's errors become pcr-sdk's: `aws_call` around every AWS call.

`tests/infra/test_sdk_operations.py` holds every AWS call site of the package to it, so no
botocore error reaches a caller; the tree itself is `pcr_sdk._private.errors`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    EndpointConnectionError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
    SSOError,
    TokenRetrievalError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from pcr_sdk._private.errors import (
    AccessDeniedError,
    AwsConnectionError,
    AwsError,
    BucketNotFoundError,
    CredentialsError,
    CredentialsExpiredError,
    JobQueueNotFoundError,
    ThrottledError,
)
from pcr_sdk._private.wire.facts import (
    ACCESS_DENIED_ERROR_CODES,
    EXPIRED_CREDENTIALS_ERROR_CODES,
    NO_SUCH_BUCKET_ERROR_CODES,
    THROTTLING_ERROR_CODES,
)


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
    elif isinstance(err, (TokenRetrievalError, SSOError)):
        kind = CredentialsExpiredError
        text = f"{operation}: the AWS credentials expired and cannot be refreshed: {err}"
    elif isinstance(err, (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError)):
        kind = CredentialsError
    elif isinstance(err, ClientError):
        error = err.response.get("Error", {})
        code = error.get("Code", "")
        message = error.get("Message", "") or str(err)
        text = f"{operation} failed ({code}): {message}"
        if code in THROTTLING_ERROR_CODES:
            kind = ThrottledError
        elif code in EXPIRED_CREDENTIALS_ERROR_CODES:
            kind = CredentialsExpiredError
        elif code in ACCESS_DENIED_ERROR_CODES:
            kind = AccessDeniedError
        elif code in NO_SUCH_BUCKET_ERROR_CODES:
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
