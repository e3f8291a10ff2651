"""Calls with no idempotency token: botocore must not resend them blindly after a lost answer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient


class AmbiguousCall(Exception):
    """A call failed after AWS may have applied it: look before resending."""


def _no_blind_retry(
    response: tuple[Any, Any] | None = None,
    caught_exception: BaseException | None = None,
    **_: Any,
) -> None:
    """botocore's needs-retry hook: raise `AmbiguousCall` instead of resending.

    Throttling and refused connections were not applied, so botocore may retry those.
    """
    if caught_exception is not None:
        if isinstance(caught_exception, (EndpointConnectionError, ConnectTimeoutError)):
            return
        raise AmbiguousCall(repr(caught_exception)) from caught_exception
    if response is not None and response[0].status_code >= 500:
        raise AmbiguousCall(f"HTTP {response[0].status_code}")


def stop_blind_retries(batch: BatchClient, operation: str) -> None:
    """Make `operation` on `batch` raise `AmbiguousCall` where botocore would resend it.

    Idempotent per client and operation (the handler's unique id).
    """
    batch.meta.events.register_first(
        f"needs-retry.batch.{operation}",
        _no_blind_retry,
        unique_id=f"pcr-sdk-no-blind-retry-{operation}",
    )
