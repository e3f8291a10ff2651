"""The gateway's screen: the Host, the Origin, the signature and the size, from a request's head
alone, answered in the shape each service's clients read (JSON for Batch and Logs, XML for S3)."""

from __future__ import annotations

import json

import pytest

from pcr_sdk.local._credentials import LocalCredentials
from pcr_sdk.local._gateway import Gateway, allowed_hosts, error_answer
from pcr_sdk.local._signature import RequestHead, Verifier

KEYS = LocalCredentials("PCRLTESTKEY", "local-test-secret")
BATCH_AUTH = (
    "AWS4-HMAC-SHA256 Credential=OTHERKEY/20260101/us-east-1/batch/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=00"
)


def _gateway() -> Gateway:
    def fallback(environ: object, start_response: object) -> list[bytes]:
        raise AssertionError("a screened request reached the fallback")

    return Gateway(Verifier(KEYS), allowed_hosts("127.0.0.1:4566"), fallback)


def test_the_hosts_answered_are_loopback_the_bound_address_and_those_allowed() -> None:
    hosts = allowed_hosts("0.0.0.0:4566", ["Box.LAN:4566", "[fe80::1]:80"])
    assert {"127.0.0.1", "localhost", "::1", "0.0.0.0", "box.lan", "fe80::1"} == hosts


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"host": "evil.example:4566"}, "is not served here"),
        ({"host": "127.0.0.1:4566", "origin": "http://evil.example"}, "web pages"),
    ],
)
def test_a_foreign_host_or_a_web_page_is_refused_before_the_signature(
    headers: dict[str, str], reason: str
) -> None:
    head = RequestHead("POST", "http://h/v1/submitjob", {**headers, "authorization": BATCH_AUTH})
    answer = _gateway().screen(head, content_length=2, chunked=False)
    assert answer is not None
    assert answer.status == 403
    body = json.loads(answer.body)
    assert body["__type"] == "AccessDeniedException"
    assert reason in body["message"]


def test_another_key_is_refused_as_aws_refuses_it() -> None:
    headers = {"host": "127.0.0.1:4566", "authorization": BATCH_AUTH}
    head = RequestHead(
        "POST", "http://h/v1/submitjob", {**headers, "x-amz-date": "20260101T000000Z"}
    )
    answer = _gateway().screen(head, content_length=2, chunked=False)
    assert answer is not None
    assert answer.status in (400, 403)
    assert "does not exist in our records" in json.loads(answer.body)["message"]


def test_s3_errors_are_xml_with_the_message_escaped() -> None:
    answer = error_answer("s3", 403, "AccessDenied", "<script>")
    assert answer.body.startswith(b"<?xml")
    assert b"&lt;script&gt;" in answer.body
    assert dict(answer.headers)["Content-Type"] == "application/xml"
    assert answer.status_line == "403 Forbidden"
