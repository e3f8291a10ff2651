"""Calls with no idempotency token: botocore must not resend them blindly after a lost answer."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError

from pcr_sdk._private.errors import AwsError

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient

logger = logging.getLogger(__name__)

MAX_AMBIGUOUS_ATTEMPTS: Final = 4
T = TypeVar("T")


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


def send_once(
    send: Callable[[], T],
    find: Callable[[], T | None],
    *,
    operation: str,
    job_queue: str | None = None,
) -> T:
    """`send()`; after an ambiguous failure, what `find()` finds of it, else send again.

    Gives up with `AwsError` after `MAX_AMBIGUOUS_ATTEMPTS` ambiguous failures in a row.
    """
    cause: AmbiguousCall | None = None
    for _ in range(MAX_AMBIGUOUS_ATTEMPTS):
        try:
            return send()
        except AmbiguousCall as err:
            cause = err
            found = find()
            if found is not None:
                logger.warning("%s answer lost (%s); it was applied: %s", operation, err, found)
                return found
            logger.warning("%s answer lost (%s) and not applied; resending", operation, err)
    raise AwsError(
        f"{operation} failed {MAX_AMBIGUOUS_ATTEMPTS} times without an answer: {cause}",
        operation=operation,
        job_queue=job_queue,
    ) from cause
