"""SigV4 as the local endpoint reads it: the claimed service, the claim's fields, the verdict."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from pcr_sdk.local._credentials import LocalCredentials
from pcr_sdk.local._signature import (
    Failure,
    RequestHead,
    SignatureRefused,
    Verifier,
    claimed_service,
    parse_claim,
)

KEYS = LocalCredentials("PCRLTESTKEY", "local-test-secret")


@pytest.mark.parametrize(
    ("url", "headers", "service"),
    [
        (
            "http://h/v1/describejobs",
            {"authorization": "AWS4-HMAC-SHA256 Credential=AK/20250101/eu-west-1/batch/"
             "aws4_request, SignedHeaders=host, Signature=00"},
            "batch",
        ),
        ("http://h/b/k?X-Amz-Credential=AK%2F20250101%2Fus-east-1%2Fs3%2Faws4_request", {}, "s3"),
        ("http://h/", {"authorization": "AWS AK:signature"}, None),  # SigV2: refused
        ("http://h/", {}, None),
    ],
)  # fmt: skip
def test_requests_name_their_service_in_their_credential_scope(
    url: str, headers: dict[str, str], service: str | None
) -> None:
    assert claimed_service(RequestHead("GET", url, headers)) == service


def _signed(keys: Credentials, body: bytes, *, service: str = "batch") -> RequestHead:
    request = AWSRequest("POST", "http://127.0.0.1:4566/v1/listjobs", data=body)
    request.headers["Host"] = "127.0.0.1:4566"
    SigV4Auth(keys, service, "us-east-1").add_auth(request)  # signs at the real time
    headers = {name.lower(): str(value) for name, value in request.headers.items()}
    return RequestHead("POST", str(request.url), headers)


def _signed_at(head: RequestHead) -> float:
    stamp = datetime.strptime(head.headers["x-amz-date"], "%Y%m%dT%H%M%SZ")
    return stamp.replace(tzinfo=timezone.utc).timestamp()


def test_a_request_signed_with_the_backends_keys_is_admitted() -> None:
    head = _signed(Credentials(KEYS.access_key_id, KEYS.secret_access_key), b"{}")
    verifier = Verifier(KEYS, clock=lambda: _signed_at(head) + 60)
    claim = verifier.verify(head, b"{}")
    assert (claim.service, claim.region, claim.access_key) == ("batch", "us-east-1", "PCRLTESTKEY")


@pytest.mark.parametrize(
    ("keys", "body", "later", "failure"),
    [
        (Credentials("OTHERKEY", "local-test-secret"), b"{}", 0, Failure.UNKNOWN_KEY),
        (Credentials("PCRLTESTKEY", "not-the-secret"), b"{}", 0, Failure.SIGNATURE),
        (Credentials("PCRLTESTKEY", "local-test-secret"), b"{ }", 0, Failure.SIGNATURE),
        (Credentials("PCRLTESTKEY", "local-test-secret", "tok"), b"{}", 0, Failure.TOKEN),
        (Credentials("PCRLTESTKEY", "local-test-secret"), b"{}", 16 * 60, Failure.SKEWED),
    ],
)
def test_anything_but_the_backends_own_signature_is_refused(
    keys: Credentials, body: bytes, later: float, failure: Failure
) -> None:
    head = _signed(keys, b"{}")
    with pytest.raises(SignatureRefused) as refused:
        Verifier(KEYS, clock=lambda: _signed_at(head) + later).verify(head, body)
    assert refused.value.failure is failure


def test_a_scope_for_a_service_not_served_is_refused_naming_it() -> None:
    head = _signed(Credentials(KEYS.access_key_id, KEYS.secret_access_key), b"{}", service="iam")
    with pytest.raises(SignatureRefused) as refused:
        parse_claim(head)
    assert refused.value.failure is Failure.SERVICE
    assert refused.value.service == "iam"
