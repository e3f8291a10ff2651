"""Who may use the local backend's socket, and where an admitted request goes.

Every request that reaches the socket is screened before anything acts on it:

1. its `Host` must name this machine (`127.0.0.1`, `localhost`, `[::1]`), the bound address or
   an allowed host: a page on a rebound DNS name is refused;
2. it must carry no `Origin` header: browsers send one, no AWS SDK does;
3. it must be signed with the backend's keys (`_signature.Verifier`); Batch and Logs bodies must
   fit AWS's request sizes, checked on `Content-Length` before the body is read.

`screen` runs on the head alone: the HTTP server calls it as soon as the headers are in, before
it receives a body, and `Gateway` calls it again for each request it serves. Then Batch and Logs
(their signature covers the body) are verified with the body and answered by the local engine
(`_wire`); S3 goes to moto's application, its body checked against the SHA-256 it signed as it
is read. A refused request is answered with the error AWS sends (JSON for Batch and Logs, XML
for S3) and changes nothing. No answer carries a CORS header; every one carries
`Content-Security-Policy: sandbox` and `X-Content-Type-Options: nosniff`, so an object served
from the bucket never runs as a page of this origin.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import tempfile
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import IO, TYPE_CHECKING, Final
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders

from pcr_sdk._private.wire import facts
from pcr_sdk.local._signature import (
    Failure,
    RequestHead,
    SignatureRefused,
    Verifier,
    claimed_service,
    parse_claim,
    signed_payload_hash,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

logger = logging.getLogger(__name__)

Handler = Callable[[AWSPreparedRequest], AWSResponse]
"""A `_wire` endpoint: `RestJsonEndpoint` or `JsonEndpoint`."""

LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})
BODY_LIMITS: Final = {
    "batch": 64 * 1024,
    "logs": facts.LOGS_MAX_REQUEST_BYTES,
}
"""The largest request body read, by service; a larger one is refused unread (413).

Logs: AWS's largest request. Batch: 64 KiB, over twice SubmitJob's 30 KiB (AWS Batch's largest
request), so that the engine answers a request somewhat over an operation's limit in AWS's
words (`_refusals.SUBMIT_JOB_SIZE`, `DEFINITION_SIZE`)."""
SECURITY_HEADERS: Final = (
    ("Content-Security-Policy", "sandbox"),
    ("X-Content-Type-Options", "nosniff"),
)
_SPOOL_BYTES: Final = 1024 * 1024
_READ_BYTES: Final = 64 * 1024
_JSON_TYPES: Final = {"batch": "application/json", "logs": "application/x-amz-json-1.1"}

# How each service names a refusal: (HTTP status, AWS error code).
_JSON_ERRORS: Final = {
    Failure.MISSING: (403, "MissingAuthenticationTokenException"),
    Failure.MALFORMED: (400, "IncompleteSignatureException"),
    Failure.SERVICE: (403, "InvalidSignatureException"),
    Failure.UNKNOWN_KEY: (403, "UnrecognizedClientException"),
    Failure.TOKEN: (403, "UnrecognizedClientException"),
    Failure.SIGNATURE: (403, "InvalidSignatureException"),
    Failure.SKEWED: (403, "InvalidSignatureException"),
    Failure.EXPIRED: (403, "InvalidSignatureException"),
    Failure.CONTENT_HASH: (400, "InvalidSignatureException"),
}
_S3_ERRORS: Final = {
    Failure.MISSING: (403, "AccessDenied"),
    Failure.MALFORMED: (400, "AuthorizationHeaderMalformed"),
    Failure.SERVICE: (403, "SignatureDoesNotMatch"),
    Failure.UNKNOWN_KEY: (403, "InvalidAccessKeyId"),
    Failure.TOKEN: (400, "InvalidToken"),
    Failure.SIGNATURE: (403, "SignatureDoesNotMatch"),
    Failure.SKEWED: (403, "RequestTimeTooSkewed"),
    Failure.EXPIRED: (403, "AccessDenied"),
    Failure.CONTENT_HASH: (400, "XAmzContentSHA256Mismatch"),
}


@dataclass(frozen=True)
class Answer:
    """A complete HTTP answer: status, headers, body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def status_line(self) -> str:
        return f"{self.status} {HTTPStatus(self.status).phrase}"


def _shape(head: RequestHead) -> str:
    """Which error shape a request expects: `batch`, `logs` (JSON) or `s3` (XML)."""
    service = claimed_service(head)
    if service in ("batch", "logs", "s3"):
        return service
    if head.headers.get("x-amz-target", "").startswith("Logs_"):
        return "logs"
    if service is not None or urlsplit(head.url).path.startswith("/v1/"):
        return "batch"
    return "s3"


def error_answer(shape: str, status: int, code: str, message: str) -> Answer:
    """The error `code` as service `shape` sends it (Batch and Logs: JSON; S3: XML)."""
    request_id = str(uuid.uuid4())
    headers: tuple[tuple[str, str], ...]
    if shape == "s3":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
        headers = (("Content-Type", "application/xml"), ("x-amz-request-id", request_id))
    else:
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = (
            ("Content-Type", _JSON_TYPES.get(shape, "application/json")),
            ("x-amzn-ErrorType", code),
            ("x-amzn-RequestId", request_id),
        )
    return Answer(status, (*headers, ("Content-Length", str(len(body)))), body)


def refusal(head: RequestHead, err: SignatureRefused) -> Answer:
    """AWS's answer to a request not signed with the backend's keys."""
    shape = _shape(head)
    status, code = (_S3_ERRORS if shape == "s3" else _JSON_ERRORS)[err.failure]
    return error_answer(shape, status, code, err.message)


def _host_name(value: str) -> str:
    """The host of a `Host` header, without its port, lower case (`[::1]:80` -> `::1`)."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def allowed_hosts(bound: str, extra: Collection[str] = ()) -> frozenset[str]:
    """The Host names a backend bound to `bound` answers: loopback, the address, `extra`."""
    return frozenset({*LOOPBACK_HOSTS, _host_name(bound), *(_host_name(h) for h in extra)}) - {""}


def head_of(environ: WSGIEnvironment) -> RequestHead:
    """The method, URL (path and query as sent) and headers of a WSGI request."""
    headers: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].lower().replace("_", "-")] = str(value)
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.lower().replace("_", "-")] = str(environ[key])
    raw = str(environ.get("REQUEST_URI") or environ.get("RAW_URI") or "")
    if raw.startswith(("http://", "https://")):  # an absolute request target
        split = urlsplit(raw)
        raw = split.path + (f"?{split.query}" if split.query else "")
    if not raw:
        query = str(environ.get("QUERY_STRING", ""))
        raw = str(environ.get("PATH_INFO", "")) + (f"?{query}" if query else "")
    host = headers.get("host", "")
    return RequestHead(str(environ.get("REQUEST_METHOD", "GET")), f"http://{host}{raw}", headers)


class Gateway:
    """A WSGI application: screens every request, then routes it by its signed service.

    `endpoints` answer the services they name (`batch`, `logs`) in-process; `fallback` (moto's
    application) answers S3.
    """

    def __init__(
        self,
        verifier: Verifier,
        hosts: Collection[str],
        fallback: WSGIApplication,
        endpoints: Mapping[str, Handler] | None = None,
    ) -> None:
        self._verifier = verifier
        self._hosts = frozenset(hosts)
        self._fallback = fallback
        self._endpoints = dict(endpoints or {})

    def route(self, service: str, endpoint: Handler) -> None:
        """Answer requests signed for `service` (e.g. `batch`) with `endpoint`."""
        self._endpoints[service] = endpoint

    def screen(
        self, head: RequestHead, *, content_length: int | None, chunked: bool
    ) -> Answer | None:
        """A refusal for a request that must go no further, from its head alone; else None.

        For S3 this checks the signature (its payload hash is a header); for Batch and Logs,
        whose signature covers the body, their key and time, and the body's announced size.
        """
        shape = _shape(head)
        denied = "AccessDenied" if shape == "s3" else "AccessDeniedException"
        host = _host_name(head.headers.get("host", ""))
        if host not in self._hosts:
            return error_answer(
                shape,
                403,
                denied,
                f"Host {host!r} is not served here: use 127.0.0.1, or start the backend "
                "with the host allowed (pcr local serve --allow-host)",
            )
        if "origin" in head.headers:
            return error_answer(
                shape, 403, denied, "requests from web pages (with an Origin header) are refused"
            )
        try:
            claim = self._verifier.admit(head)
            if claim.service == "s3":
                self._verifier.verify(head, None)
                return None
        except SignatureRefused as err:
            return refusal(head, err)
        return _size_refusal(shape, claim.service, content_length, chunked)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        head = head_of(environ)
        length_text = str(environ.get("CONTENT_LENGTH") or "0")
        length = int(length_text) if length_text.isdigit() else None
        answer = self.screen(head, content_length=length, chunked=False)
        if answer is None:
            service = parse_claim(head).service
            endpoint = self._endpoints.get(service)
            if endpoint is not None:
                answer = self._answer(endpoint, head, environ, length or 0)
            else:
                return self._to_fallback(head, environ, length or 0, start_response)
        start_response(answer.status_line, [*answer.headers, *SECURITY_HEADERS])
        return [answer.body]

    def _answer(
        self, endpoint: Handler, head: RequestHead, environ: WSGIEnvironment, length: int
    ) -> Answer:
        body = environ["wsgi.input"].read(length) if length else b""
        try:
            self._verifier.verify(head, body)
        except SignatureRefused as err:
            return refusal(head, err)
        request = AWSPreparedRequest(head.method, head.url, _headers(head.headers), body, False)
        try:
            response = endpoint(request)
        except Exception:  # a bug must still answer in AWS's shape, not as an HTML page
            logger.exception("local backend: %s %s broke", head.method, head.url)
            return error_answer(_shape(head), 500, "ServerException", "internal error")
        headers = tuple((name, str(value)) for name, value in response.headers.items())
        return Answer(response.status_code, headers, response.content)

    def _to_fallback(
        self,
        head: RequestHead,
        environ: WSGIEnvironment,
        length: int,
        start_response: StartResponse,
    ) -> Iterable[bytes]:
        expected = signed_payload_hash(head)
        checked: IO[bytes] | None = None
        if expected is not None:
            checked = _checked_body(environ["wsgi.input"], length, expected)
            if checked is None:
                answer = refusal(
                    head,
                    SignatureRefused(
                        Failure.CONTENT_HASH,
                        "The provided 'x-amz-content-sha256' header does not match what was "
                        "computed.",
                        "s3",
                    ),
                )
                start_response(answer.status_line, [*answer.headers, *SECURITY_HEADERS])
                return [answer.body]
            environ["wsgi.input"] = checked
        environ["RAW_URI"] = urlsplit(head.url)._replace(scheme="", netloc="").geturl()

        def start(
            status: str, headers: list[tuple[str, str]], exc_info: object = None
        ) -> Callable[[bytes], object]:
            kept = [(n, v) for n, v in headers if not n.lower().startswith("access-control-")]
            return start_response(status, [*kept, *SECURITY_HEADERS], exc_info)  # type: ignore[arg-type]

        return _Closing(self._fallback(environ, start), checked)


class _Closing:
    """A WSGI answer that also closes the spooled request body once the server is done."""

    def __init__(self, answer: Iterable[bytes], body: IO[bytes] | None) -> None:
        self._answer = answer
        self._body = body

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._answer)

    def close(self) -> None:
        try:
            close = getattr(self._answer, "close", None)
            if close is not None:
                close()
        finally:
            if self._body is not None:
                self._body.close()


def _size_refusal(
    shape: str, service: str, content_length: int | None, chunked: bool
) -> Answer | None:
    """A Batch or Logs body without a length, or longer than AWS accepts; else None."""
    code = "ClientException" if shape == "batch" else "InvalidParameterException"
    if chunked or content_length is None:
        return error_answer(shape, 411, code, "a Content-Length is required")
    limit = BODY_LIMITS[service]
    if content_length > limit:
        return error_answer(
            shape,
            413,
            code,
            f"the request body of {content_length} bytes exceeds {service}'s limit of "
            f"{limit} bytes",
        )
    return None


def _headers(headers: Mapping[str, str]) -> HTTPHeaders:
    found = HTTPHeaders()
    for name, value in headers.items():
        found[name] = value
    return found


def _checked_body(stream: IO[bytes], length: int, expected: str) -> IO[bytes] | None:
    """The body (spooled: memory holds at most 1 MiB) if its SHA-256 is `expected`; else None."""
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 - handed on
    digest = hashlib.sha256()
    remaining = length
    while remaining > 0:
        chunk = stream.read(min(_READ_BYTES, remaining))
        if not chunk:
            break
        digest.update(chunk)
        spool.write(chunk)
        remaining -= len(chunk)
    if remaining or not hmac.compare_digest(digest.hexdigest(), expected):
        spool.close()
        return None
    spool.seek(0)
    return spool
