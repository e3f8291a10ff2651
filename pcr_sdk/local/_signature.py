"""SigV4 verification of a request that reached the local backend's socket, with botocore's signers.

A request names its service, region, date, access key, signed headers and signature in its
`Authorization` header, or, for a presigned S3 URL, in its query (`X-Amz-Credential`, ...).
`Verifier` rebuilds the canonical request from exactly the headers the client says it signed
(`SignedHeaders`), signs it with the backend's own keys through botocore's own signers
(`SigV4Auth` for Batch and Logs, `S3SigV4Auth` for S3, `S3SigV4QueryAuth` for presigned URLs)
and compares the signatures with `hmac.compare_digest`. Nothing here writes SigV4 by hand: the
canonical request, the string to sign and the key derivation are botocore's.

What a signature covers: the method, the path and query as sent, the signed headers and the
payload hash. For Batch and Logs that hash is computed from the body, so `verify` needs it. For
S3 the client states it in `X-Amz-Content-SHA256` (covered by the signature): a hex SHA-256 is
checked against the body by the caller as the body streams through; `UNSIGNED-PAYLOAD` and the
`STREAMING-*` forms (aws-chunked bodies) leave the body unverified, as their names say.
"""

from __future__ import annotations

import enum
import hmac
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Final
from urllib.parse import unquote, urlsplit

from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from pcr_sdk.local._credentials import LocalCredentials

SERVED: Final = frozenset({"batch", "logs", "s3"})
"""The services (signing names) the local backend answers."""
MAX_SKEW_SECONDS: Final = 15 * 60
"""AWS refuses a request whose X-Amz-Date is further than this from its clock."""
MAX_PRESIGN_SECONDS: Final = 7 * 24 * 3600
"""The longest X-Amz-Expires S3 accepts (7 days)."""
UNSIGNED_PAYLOAD: Final = "UNSIGNED-PAYLOAD"
_ALGORITHM: Final = "AWS4-HMAC-SHA256"
_TIMESTAMP: Final = re.compile(r"\d{8}T\d{6}Z")
_SHA256_HEX: Final = re.compile(r"[0-9a-f]{64}")
_AUTH_FIELDS: Final = re.compile(r"(Credential|SignedHeaders|Signature)=([^,\s]*)")
_QUERY_AUTH: Final = frozenset(
    {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
     "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token"}
)  # fmt: skip


class Failure(enum.Enum):
    """Why a request was refused; each service answers it with its own AWS error code."""

    MISSING = "missing"
    """No signature at all."""
    MALFORMED = "malformed"
    """A signature whose fields are missing or malformed (another algorithm, a bad scope)."""
    SERVICE = "service"
    """Signed for a service the backend does not serve."""
    UNKNOWN_KEY = "unknown-key"
    """Not the backend's access key."""
    TOKEN = "token"  # noqa: S105 - a failure's name, not a secret
    """It carries a session token: the backend's keys have none, so it is someone else's."""
    SIGNATURE = "signature"
    """The signature does not match."""
    SKEWED = "skewed"
    """X-Amz-Date is more than 15 minutes off."""
    EXPIRED = "expired"
    """A presigned URL past its X-Amz-Expires."""
    CONTENT_HASH = "content-hash"
    """The body does not match the X-Amz-Content-SHA256 the client signed."""


class SignatureRefused(Exception):
    """A request not signed with the backend's keys: `failure` says why, `service` for whom."""

    def __init__(self, failure: Failure, message: str, service: str | None = None) -> None:
        super().__init__(message)
        self.failure = failure
        self.message = message
        self.service = service


@dataclass(frozen=True)
class RequestHead:
    """A request's method, URL (path and query exactly as sent) and headers (lower-case names)."""

    method: str
    url: str
    headers: Mapping[str, str]

    @property
    def query_pairs(self) -> list[tuple[str, str]]:
        """The raw `name=value` pairs of the query, still percent-encoded."""
        query = urlsplit(self.url).query
        pairs = (pair.partition("=") for pair in query.split("&") if pair)
        return [(name, value) for name, _, value in pairs]


@dataclass(frozen=True)
class Claim:
    """What a request says about its signature."""

    service: str
    region: str
    access_key: str
    timestamp: str
    signed_headers: tuple[str, ...]
    signature: str
    presigned: bool
    expires: int = 0
    token: str | None = None


def claimed_service(head: RequestHead) -> str | None:
    """The service a request's credential scope names (lower case), without checking anything."""
    scope = ""
    found = re.search(r"Credential=([^,\s]+)", head.headers.get("authorization", ""))
    if found is not None:
        scope = found.group(1)
    else:
        for name, value in head.query_pairs:
            if name == "X-Amz-Credential":
                scope = unquote(value)
    parts = scope.split("/")
    if len(parts) >= 5 and parts[-1] == "aws4_request":
        return parts[-2].lower()
    return None


@dataclass(frozen=True)
class _Fields:
    algorithm: str
    credential: str
    signed: str
    signature: str
    timestamp: str
    token: str | None
    presigned: bool
    expires: int = 0


def _fields(head: RequestHead, service: str | None) -> _Fields:
    """The signature's fields, from the Authorization header or a presigned URL's query."""
    authorization = head.headers.get("authorization")
    query = {name: unquote(value) for name, value in head.query_pairs if name in _QUERY_AUTH}
    if authorization is not None and query:
        raise SignatureRefused(Failure.MALFORMED, "Only one auth mechanism allowed", service)
    if authorization is not None:
        algorithm, _, rest = authorization.strip().partition(" ")
        found = dict(_AUTH_FIELDS.findall(rest))
        return _Fields(
            algorithm=algorithm,
            credential=found.get("Credential", ""),
            signed=found.get("SignedHeaders", ""),
            signature=found.get("Signature", ""),
            timestamp=head.headers.get("x-amz-date", ""),
            token=head.headers.get("x-amz-security-token"),
            presigned=False,
        )
    if "X-Amz-Credential" not in query and "X-Amz-Signature" not in query:
        raise SignatureRefused(Failure.MISSING, "the request is not signed", service)
    expires = query.get("X-Amz-Expires", "")
    if not expires.isdigit() or not 1 <= int(expires) <= MAX_PRESIGN_SECONDS:
        raise SignatureRefused(
            Failure.MALFORMED,
            f"X-Amz-Expires must be a number of seconds from 1 to {MAX_PRESIGN_SECONDS}",
            service,
        )
    return _Fields(
        algorithm=query.get("X-Amz-Algorithm", ""),
        credential=query.get("X-Amz-Credential", ""),
        signed=query.get("X-Amz-SignedHeaders", ""),
        signature=query.get("X-Amz-Signature", ""),
        timestamp=query.get("X-Amz-Date", ""),
        token=query.get("X-Amz-Security-Token"),
        presigned=True,
        expires=int(expires),
    )


def parse_claim(head: RequestHead) -> Claim:
    """The signature fields of `head` (Authorization header or presigned query).

    Args:
        head: the request's method, URL and headers.

    Returns:
        The claim.

    Raises:
        SignatureRefused: no signature, a malformed one, or one for a service not served.
    """
    service = claimed_service(head)
    fields = _fields(head, service)
    algorithm, credential, signed = fields.algorithm, fields.credential, fields.signed
    signature, timestamp = fields.signature, fields.timestamp
    if algorithm != _ALGORITHM:
        raise SignatureRefused(
            Failure.MALFORMED, f"unsupported signing algorithm {algorithm!r}", service
        )
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not all(parts):
        raise SignatureRefused(
            Failure.MALFORMED, f"malformed credential scope {credential!r}", service
        )
    access_key, date, region, scope_service, _ = parts
    if not signed or not signature:
        raise SignatureRefused(
            Failure.MALFORMED, "SignedHeaders and Signature are required", service
        )
    if not _TIMESTAMP.fullmatch(timestamp):
        raise SignatureRefused(
            Failure.MALFORMED, "X-Amz-Date must be given as YYYYMMDDTHHMMSSZ", service
        )
    if date != timestamp[:8]:
        raise SignatureRefused(
            Failure.MALFORMED,
            f"the credential scope's date {date} is not X-Amz-Date's {timestamp[:8]}",
            service,
        )
    if scope_service not in SERVED:
        raise SignatureRefused(
            Failure.SERVICE,
            f"Credential should be scoped to correct service: one of {', '.join(sorted(SERVED))}, "
            f"not {scope_service!r}",
            scope_service,
        )
    if fields.presigned and scope_service != "s3":
        raise SignatureRefused(
            Failure.MALFORMED, "query-string authentication is served for s3 only", scope_service
        )
    headers = tuple(signed.split(";"))
    if "host" not in headers:
        raise SignatureRefused(Failure.MALFORMED, "SignedHeaders must include host", scope_service)
    return Claim(
        service=scope_service,
        region=region,
        access_key=access_key,
        timestamp=timestamp,
        signed_headers=headers,
        signature=signature,
        presigned=fields.presigned,
        expires=fields.expires,
        token=fields.token,
    )


class Verifier:
    """Checks that requests are signed with one backend's keys (`credentials`)."""

    def __init__(
        self, credentials: LocalCredentials, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._credentials = credentials
        self._botocore = Credentials(credentials.access_key_id, credentials.secret_access_key)
        self._clock = clock

    def admit(self, head: RequestHead) -> Claim:
        """The claim of `head` once its key, session token and time are checked (no signature).

        Args:
            head: the request's method, URL and headers.

        Returns:
            The claim.

        Raises:
            SignatureRefused: not the backend's key, a session token, or a time out of range.
        """
        claim = parse_claim(head)
        if not hmac.compare_digest(
            claim.access_key.encode(), self._credentials.access_key_id.encode()
        ):
            raise SignatureRefused(
                Failure.UNKNOWN_KEY,
                "The AWS Access Key Id you provided does not exist in our records.",
                claim.service,
            )
        if claim.token is not None:
            raise SignatureRefused(
                Failure.TOKEN,
                "The security token included in the request is invalid.",
                claim.service,
            )
        self._check_time(claim)
        return claim

    def verify(self, head: RequestHead, body: bytes | None) -> Claim:
        """The claim of `head` once its signature is checked.

        `body` is needed for Batch and Logs (their signature covers the body's hash); for S3
        it is ignored: its signature covers the `X-Amz-Content-SHA256` header instead, which
        the caller checks against the body (see `signed_payload_hash`).

        Args:
            head: the request's method, URL and headers.
            body: the request's body (None for S3).

        Returns:
            The claim.

        Raises:
            SignatureRefused: the request is not signed with the backend's keys.
        """
        claim = self.admit(head)
        request = self._request(head, claim, body)
        signer: SigV4Auth
        if claim.presigned:
            signer = S3SigV4QueryAuth(self._botocore, claim.service, claim.region, claim.expires)
        elif claim.service == "s3":
            signer = S3SigV4Auth(self._botocore, claim.service, claim.region)
        else:
            signer = SigV4Auth(self._botocore, claim.service, claim.region)
        request.context["timestamp"] = claim.timestamp
        if signer.signed_headers(signer.headers_to_sign(request)) != ";".join(claim.signed_headers):
            raise SignatureRefused(
                Failure.SIGNATURE,
                "SignedHeaders names headers that cannot be signed",
                claim.service,
            )
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        if not hmac.compare_digest(expected.encode(), claim.signature.encode()):
            raise SignatureRefused(
                Failure.SIGNATURE,
                "The request signature we calculated does not match the signature you provided.",
                claim.service,
            )
        return claim

    def _check_time(self, claim: Claim) -> None:
        signed_at = (
            datetime.strptime(claim.timestamp, "%Y%m%dT%H%M%SZ")
            .replace(tzinfo=timezone.utc)
            .timestamp()
        )
        now = self._clock()
        if claim.presigned:
            if now > signed_at + claim.expires:
                raise SignatureRefused(Failure.EXPIRED, "Request has expired", claim.service)
            if signed_at > now + MAX_SKEW_SECONDS:
                raise SignatureRefused(
                    Failure.SKEWED, "Request is not valid yet (X-Amz-Date)", claim.service
                )
        elif abs(now - signed_at) > MAX_SKEW_SECONDS:
            raise SignatureRefused(
                Failure.SKEWED,
                "Signature expired or not yet valid: the difference between the request time "
                "and the current time is too large.",
                claim.service,
            )

    def _request(self, head: RequestHead, claim: Claim, body: bytes | None) -> AWSRequest:
        url = head.url
        if claim.presigned:
            split = urlsplit(url)
            kept = (p for p in split.query.split("&") if p.partition("=")[0] != "X-Amz-Signature")
            query = "&".join(kept)
            url = split._replace(query=query).geturl()
        headers = {}
        for name in claim.signed_headers:
            value = head.headers.get(name)
            if value is None:
                raise SignatureRefused(
                    Failure.SIGNATURE, f"signed header {name!r} is missing", claim.service
                )
            headers[name] = value
        if claim.service == "s3" and not claim.presigned and "x-amz-content-sha256" not in headers:
            raise SignatureRefused(
                Failure.MALFORMED,
                "Missing required header for this request: x-amz-content-sha256",
                claim.service,
            )
        return AWSRequest(method=head.method, url=url, headers=headers, data=body or b"")


def signed_payload_hash(head: RequestHead) -> str | None:
    """The body's SHA-256 (hex) an S3 request signed, or None (unsigned or streaming payload)."""
    value = head.headers.get("x-amz-content-sha256", "")
    return value if _SHA256_HEX.fullmatch(value) else None
