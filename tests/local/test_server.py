"""The local endpoint: a request goes to the service its signature names."""

from __future__ import annotations

from typing import Any

import pytest

from pcr_sdk.local._server import signing_service


@pytest.mark.parametrize(
    ("environ", "service"),
    [
        (
            {"HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=AK/20250101/eu-west-1/batch/"
             "aws4_request, SignedHeaders=host, Signature=00"},
            "batch",
        ),
        ({"QUERY_STRING": "X-Amz-Credential=AK%2F20250101%2Fus-east-1%2Fs3%2Faws4_request"}, "s3"),
        ({"HTTP_X_AMZ_TARGET": "Logs_20140328.GetLogEvents"}, "logs"),
        ({"HTTP_AUTHORIZATION": "AWS AK:signature"}, None),  # SigV2: moto decides
        ({}, None),
    ],
)  # fmt: skip
def test_requests_are_routed_by_the_service_their_signature_names(
    environ: dict[str, Any], service: str | None
) -> None:
    assert signing_service(environ) == service
