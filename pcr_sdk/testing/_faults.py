"""Fault injection below botocore's retry layer, so the SDK's real retry behaviour is exercised.

Two `before-send` handlers sit on the world's event system around the mock (the world's Batch
engine, registered first right after them, and moto's stubber, in the middle): the first one
answers with a canned error response (and points the request at an unroutable host so the mock
does not also execute it) or raises a connection error; the last one runs after the mock has
applied the request and raises "connection closed", losing the response. botocore then decides,
exactly as it would against AWS, whether to retry.
"""

from __future__ import annotations

import enum
import json
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, cast

from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError

from pcr_sdk._private.public import public

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from botocore.awsrequest import AWSPreparedRequest
    from botocore.hooks import BaseEventHooks

Service = Literal["batch", "s3", "logs"]

# botocore names services by their hyphenized service id in event names.
_SERVICE_IDS: Final[dict[str, Service]] = {"batch": "batch", "s3": "s3", "cloudwatch-logs": "logs"}
DIVERTED_HOST: Final = "https://fault-injected.pcr-sdk.invalid/"


@public("pcr_sdk.testing")
class Fault(enum.Enum):
    """What the client experiences instead of (or after) a normal call."""

    THROTTLE = "throttle"
    """HTTP 429 TooManyRequestsException (S3: 503 SlowDown; Logs: 400 ThrottlingException)."""
    SERVER_ERROR = "server-error"
    """HTTP 500 (Batch ServerException, S3 InternalError, Logs ServiceUnavailableException)."""
    CONNECTION_ERROR = "connection-error"
    """The endpoint cannot be reached; the request never arrives."""
    LOST_RESPONSE = "lost-response"
    """The request IS applied by the mock, then the connection closes before the response."""


@public("pcr_sdk.testing")
@dataclass
class FaultHandle:
    """One registered fault rule; `injected` counts how often it fired so far."""

    service: Service
    """`"batch"`, `"s3"` or `"logs"`."""
    operation: str | None
    """botocore's name of the operation; None: every operation of `service`."""
    kind: Fault
    """The fault."""
    times: int | None
    """How many attempts it fires on; None: every one."""
    injected: int = 0
    """How often it fired so far."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def exhausted(self) -> bool:
        """The rule fired its `times` times and fires no more (never, without `times`)."""
        return self.times is not None and self.injected >= self.times

    def _take(self) -> bool:
        with self._lock:
            if self.exhausted:
                return False
            self.injected += 1
            return True


class _CannedBody:
    """The `raw` object an AWSResponse reads its content from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def _error_response(service: Service, kind: Fault, url: str) -> AWSResponse:
    """The HTTP error AWS itself would send for `kind`, in `service`'s protocol."""
    headers = HTTPHeaders()
    throttle = kind is Fault.THROTTLE
    if service == "s3":
        code, status = ("SlowDown", 503) if throttle else ("InternalError", 500)
        message = (
            "Please reduce your request rate." if throttle else "We encountered an internal error."
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            "<RequestId>PCRFAULT</RequestId></Error>"
        ).encode()
        headers["Content-Type"] = "application/xml"
    elif service == "batch":
        code, status = ("TooManyRequestsException", 429) if throttle else ("ServerException", 500)
        body = json.dumps({"message": f"{code} injected by pcr_sdk.testing"}).encode()
        headers["Content-Type"] = "application/json"
    else:
        code, status = (
            ("ThrottlingException", 400) if throttle else ("ServiceUnavailableException", 500)
        )
        body = json.dumps({"__type": code, "message": "injected by pcr_sdk.testing"}).encode()
        headers["Content-Type"] = "application/x-amz-json-1.1"
    headers["x-amzn-errortype"] = code
    headers["x-amzn-requestid"] = "PCRFAULT"
    return AWSResponse(url, status, headers, _CannedBody(body))


def _parse_event(event_name: str) -> tuple[Service, str] | None:
    parts = event_name.split(".")
    if len(parts) != 3:
        return None
    service = _SERVICE_IDS.get(parts[1])
    return None if service is None else (service, parts[2])


@public("pcr_sdk.testing")
class ListingLag:
    """AWS Batch's ListJobs is eventually consistent: a new job may be missing from it a while.

    While active, each job is left out of the first `answers` ListJobs answers it would have
    appeared in (DescribeJobs still knows it).

    Args:
        answers: how many ListJobs answers leave each job out.
    """

    def __init__(self, answers: int) -> None:
        self.answers = answers
        self.hidden = 0
        """How many times a job was left out of a ListJobs answer so far."""
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()

    def filter(self, parsed: dict[str, Any]) -> None:
        """Drop, in place, the summaries of a parsed ListJobs answer that are still hidden.

        Args:
            parsed: botocore's parsed ListJobs response (its `jobSummaryList` is changed).
        """
        summaries = parsed.get("jobSummaryList")
        if not isinstance(summaries, list):
            return
        kept = []
        with self._lock:
            for summary in summaries:
                job_id = summary.get("jobId")
                seen = self._seen[job_id] = self._seen.get(job_id, 0) + 1
                if seen <= self.answers:
                    self.hidden += 1
                else:
                    kept.append(summary)
        summaries[:] = kept


@public("pcr_sdk.testing")
class FaultInjector:
    """Registers faults that the world's clients meet on their next matching requests.

    Each rule fires for the next `times` matching attempts (retries included), then goes quiet;
    `times=None` fires on every attempt (to exhaust botocore's retries). Rules are checked in the
    order they were added. botocore's standard mode also keeps a per-client retry quota (about
    100 retries without a success in between); a test that injects more than that into one
    client sees retries stop early, exactly as against AWS.
    """

    def __init__(self) -> None:
        self._rules: list[FaultHandle] = []
        self._lock = threading.Lock()
        self._total = 0
        self._lag: ListingLag | None = None

    def add(
        self,
        *,
        service: Service,
        kind: Fault,
        operation: str | None = None,
        times: int | None = 1,
    ) -> FaultHandle:
        """Inject `kind` into the next `times` attempts of `operation`.

        Args:
            service: `"batch"`, `"s3"` or `"logs"`.
            kind: the fault (`Fault`), e.g. a throttling error or a lost response.
            operation: botocore's name of the operation, e.g. "SubmitJob", "PutObject"; None:
                every operation of `service`.
            times: how many matching attempts it fires on (at least 1); None: every one.

        Returns:
            The rule's handle: how often it fired.

        Raises:
            ValueError: `service` is not one of the three, or `times` is below 1.
        """
        if service not in ("batch", "s3", "logs"):
            raise ValueError(f"service must be 'batch', 's3' or 'logs', not {service!r}")
        if times is not None and times < 1:
            raise ValueError(f"times must be >= 1 or None, got {times}")
        handle = FaultHandle(service=service, operation=operation, kind=kind, times=times)
        with self._lock:
            self._rules.append(handle)
        return handle

    @property
    def injected(self) -> int:
        """How many faults fired in all since the world started (`clear()` does not reset it)."""
        with self._lock:
            return self._total

    @property
    def rules(self) -> tuple[FaultHandle, ...]:
        """The rules added so far, in order (fired or not)."""
        with self._lock:
            return tuple(self._rules)

    def delay_listing(self, answers: int = 1) -> ListingLag:
        """Make ListJobs eventually consistent: each job is missing from the first `answers`
        ListJobs answers it would appear in (as a job created a moment ago may be on AWS).

        Args:
            answers: how many answers leave each job out (at least 1).

        Returns:
            The lag: how many times a job was left out so far.

        Raises:
            ValueError: `answers` is below 1.
        """
        if answers < 1:
            raise ValueError(f"answers must be >= 1, got {answers}")
        lag = ListingLag(answers)
        with self._lock:
            self._lag = lag
        return lag

    def clear(self) -> None:
        """Forget every rule and the listing lag; calls go through normally again."""
        with self._lock:
            self._rules.clear()
            self._lag = None

    def install(self, events: BaseEventHooks) -> None:
        """Hook into `events` (a session's event system): first and last of its `before-send`
        handlers, so that whatever answers requests comes in between.

        Args:
            events: the session's (or a client's) event system.
        """
        # botocore-stubs declare handlers as returning None; before-send handlers may answer.
        before = cast("Callable[..., None]", self._before_mock)
        events.register_first("before-send", before, unique_id="pcr-testing-faults-1")
        events.register_last("before-send", self._after_mock, unique_id="pcr-testing-faults-2")
        events.register("after-call.batch.ListJobs", self._lag_listing, unique_id="pcr-lag")

    def _lag_listing(self, parsed: dict[str, Any], **_: Any) -> None:
        with self._lock:
            lag = self._lag
        if lag is not None:
            lag.filter(parsed)

    def _take(self, event_name: str, *, lost: bool) -> tuple[Service, FaultHandle] | None:
        parsed = _parse_event(event_name)
        if parsed is None:
            return None
        service, operation = parsed
        for rule in self.rules:
            if (
                (rule.kind is Fault.LOST_RESPONSE) == lost
                and rule.service == service
                and rule.operation in (None, operation)
                and rule._take()
            ):
                with self._lock:
                    self._total += 1
                return service, rule
        return None

    def _before_mock(
        self, request: AWSPreparedRequest, event_name: str, **_: Any
    ) -> AWSResponse | None:
        taken = self._take(event_name, lost=False)
        if taken is None:
            return None
        service, rule = taken
        if rule.kind is Fault.CONNECTION_ERROR:
            raise EndpointConnectionError(endpoint_url=request.url)
        url = request.url
        # the mock's handlers run after this one whatever it returns; an unroutable URL makes
        # them pass, so the faulted attempt is not applied behind the client's back.
        request.url = DIVERTED_HOST
        return _error_response(service, rule.kind, url)

    def _after_mock(self, request: AWSPreparedRequest, event_name: str, **_: Any) -> None:
        if request.url == DIVERTED_HOST:
            return  # this attempt already carries a fault
        if self._take(event_name, lost=True) is not None:
            raise ConnectionClosedError(endpoint_url=request.url)
