"""pcr-sdk's own requests on clients it was handed, and the handlers that act on them alone.

A caller may share its boto3 clients with pcr-sdk. pcr-sdk still needs two things from
botocore's retry loop for its own calls: no blind resend of calls without an idempotency token
(SubmitJob, RegisterJobDefinition), and word of throttling so its rate governor slows down.
Handlers for both are registered on the client once, but act only on requests whose botocore
request context carries pcr-sdk's marker; the marker is put there, from a thread-local scope,
by a `before-parameter-build` handler while pcr-sdk itself makes the call. Every other request
on that client runs exactly as botocore would run it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError

from pcr_sdk._private.wire.facts import THROTTLING_ERROR_CODES

if TYPE_CHECKING:
    from botocore.hooks import BaseEventHooks

_CONTEXT_KEY: Final = "pcr_sdk_call"
_local = threading.local()


class ThrottleListener(Protocol):
    """What learns that AWS throttled one of pcr-sdk's calls (the rate governor)."""

    def on_throttle(self) -> None: ...


class AmbiguousCall(Exception):
    """A call failed after AWS may have applied it: look before resending."""


@dataclass(frozen=True)
class CallScope:
    """How pcr-sdk's handlers treat the calls made inside one `scope()`."""

    no_blind_retry: bool = False
    throttle_listener: ThrottleListener | None = None


class _HasEvents(Protocol):
    @property
    def meta(self) -> Any: ...


def install(client: _HasEvents) -> None:
    """Register pcr-sdk's handlers on `client` (idempotent: unique ids)."""
    events: BaseEventHooks = client.meta.events
    service = client.meta.service_model.service_id.hyphenize()
    events.register_first(
        f"before-parameter-build.{service}", _mark, unique_id=f"pcr-sdk-mark-{service}"
    )
    events.register_first(
        f"needs-retry.{service}", _needs_retry, unique_id=f"pcr-sdk-needs-retry-{service}"
    )


@contextmanager
def scope(
    *, no_blind_retry: bool = False, throttle_listener: ThrottleListener | None = None
) -> Iterator[None]:
    """Mark the calls this thread makes inside the block as pcr-sdk's own."""
    previous = getattr(_local, "scope", None)
    _local.scope = CallScope(no_blind_retry=no_blind_retry, throttle_listener=throttle_listener)
    try:
        yield
    finally:
        _local.scope = previous


def _mark(context: dict[str, Any], **_: Any) -> None:
    current = getattr(_local, "scope", None)
    if current is not None:
        context[_CONTEXT_KEY] = current


def _needs_retry(
    request_dict: dict[str, Any] | None = None,
    response: tuple[Any, Any] | None = None,
    caught_exception: BaseException | None = None,
    **_: Any,
) -> None:
    """botocore's needs-retry hook for pcr-sdk's calls; other calls pass untouched."""
    context = (request_dict or {}).get("context") or {}
    current = context.get(_CONTEXT_KEY)
    if not isinstance(current, CallScope):
        return
    if response is not None and current.throttle_listener is not None:
        code = (response[1] or {}).get("Error", {}).get("Code")
        if code in THROTTLING_ERROR_CODES or response[0].status_code == 429:
            current.throttle_listener.on_throttle()
    if not current.no_blind_retry:
        return
    # Throttling and refused connections were not applied: botocore may resend those.
    if caught_exception is not None:
        if isinstance(caught_exception, (EndpointConnectionError, ConnectTimeoutError)):
            return
        raise AmbiguousCall(repr(caught_exception)) from caught_exception
    if response is not None and response[0].status_code >= 500:
        raise AmbiguousCall(f"HTTP {response[0].status_code}")


def max_attempts(client: _HasEvents, default: int = 3) -> int:
    """How many attempts in all botocore makes of one call on `client` (its retry config)."""
    retries = getattr(client.meta.config, "retries", None) or {}
    if "total_max_attempts" in retries:
        return max(1, int(retries["total_max_attempts"]))
    if "max_attempts" in retries:
        return max(1, int(retries["max_attempts"]) + 1)
    return default
