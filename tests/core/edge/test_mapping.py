"""botocore errors map to the most specific PcrError, chained, with their context (`aws_call`)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from pcr_sdk import (
    AccessDeniedError,
    AwsConnectionError,
    AwsError,
    BucketNotFoundError,
    CredentialsError,
    JobQueueNotFoundError,
    PcrError,
    ThrottledError,
)
from pcr_sdk._private.edge.mapping import aws_call, map_client_error


def client_error(code: str, message: str = "m", status: int = 400) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "Op")


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("TooManyRequestsException", ThrottledError),
        ("SlowDown", ThrottledError),
        ("AccessDenied", AccessDeniedError),
        ("AccessDeniedException", AccessDeniedError),
        ("NoSuchBucket", BucketNotFoundError),
        ("SomethingNew", AwsError),
    ],
)
def test_codes_map_to_specific_errors(code: str, kind: type[AwsError]) -> None:
    mapped = map_client_error(client_error(code), operation="PutObject", bucket="b", key="k")
    assert type(mapped) is kind
    assert (mapped.operation, mapped.code, mapped.bucket, mapped.key) == (
        "PutObject",
        code,
        "b",
        "k",
    )


def test_missing_queue_is_recognised_only_for_queue_calls() -> None:
    err = client_error("ClientException", "Job queue arn:...:job-queue/nope does not exist")
    assert (
        type(map_client_error(err, operation="SubmitJob", job_queue="nope"))
        is JobQueueNotFoundError
    )
    assert type(map_client_error(err, operation="DescribeJobs")) is AwsError


def test_connection_and_other_botocore_errors() -> None:
    conn = map_client_error(
        EndpointConnectionError(endpoint_url="https://x"), operation="SubmitJob"
    )
    assert type(conn) is AwsConnectionError
    creds = map_client_error(NoCredentialsError(), operation="SubmitJob")
    assert type(creds) is CredentialsError


def test_aws_call_chains_the_cause() -> None:
    original = client_error("AccessDenied")
    with pytest.raises(AccessDeniedError) as info, aws_call("GetObject", bucket="b", key="k"):
        raise original
    assert info.value.__cause__ is original
    assert isinstance(info.value, PcrError)


def test_aws_call_lets_other_errors_through() -> None:
    with pytest.raises(RuntimeError), aws_call("GetObject"):
        raise RuntimeError("not botocore")
