"""Every argument of `JobSubmitter` and `JobSubmitter.attach` given a wrong type, an
out-of-range value or a non-finite number raises `PcrInputError` (under the one root,
`PcrError`) before any call. `timeout_in_hours=1e308` raised OverflowError,
`environment=['A']` ValueError and `clients='x'` AttributeError.

No AWS here, not even moto: the clients' `before-send` raises, so a request that got as far as
being sent fails the test. The table runs in the fast loop.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from pcr_sdk import AwsClients, JobSubmitter, PcrInputError, SilentProgress
from pcr_sdk.advanced import Seams
from tests.support.fakes import FakeClock


class Sent(AssertionError):
    """A request was about to be sent."""


def _refuse(**kwargs: Any) -> None:
    raise Sent(f"a request was sent: {kwargs.get('request')}")


@pytest.fixture(scope="module")
def clients() -> Iterator[AwsClients]:
    session = boto3.Session(
        aws_access_key_id="none", aws_secret_access_key="none", region_name="eu-central-1"
    )
    made = AwsClients(
        batch=session.client("batch"), s3=session.client("s3"), logs=session.client("logs")
    )
    for client in (made.batch, made.s3, made.logs):
        client.meta.events.register("before-send.*.*", _refuse)
    yield made
    for client in (made.batch, made.s3, made.logs):
        client.close()


WRONG: Any = object()
"""A value of no accepted type."""

# argument -> (a wrong type, an out-of-range value, a non-finite number); None: no such case.
# Numeric strings for the definition's integers ("1024") are still coerced (pydantic's lax mode,
# as before): the wrong type here is a list.
CONSTRUCTOR: dict[str, tuple[Any, Any, Any]] = {
    "batch_name": (7, "a" * 91, math.nan),
    "job_queue": (7, "", math.inf),
    "container": (7, "", math.nan),
    "job_bucket": (7, "", math.nan),
    "memory_in_mb": ([1024], 0, math.inf),
    "aws_region": (7, "not a region!", math.nan),
    "timeout_in_hours": ("20", 1e308, math.inf),
    "polling_interval_seconds": ("30", -1, math.nan),
    "request_throttling_milliseconds": ("100", -1, math.inf),
    "vcpus": ([4], 0, math.inf),
    "gpus": ([1], -1, math.nan),
    "retry_attempts": ([3], 11, math.inf),
    "retry": (WRONG, None, math.nan),
    "environment": (["A"], {"AWS_BATCH_X": "1"}, {"A": math.nan}),
    "tags": (["A"], {"": "x"}, {"A": math.inf}),
    "platform": (7, "MARS", math.nan),
    "clients": ("x", None, math.nan),
    "session": ("x", None, math.inf),
    "governor": ("x", None, math.nan),
    "io_workers": ("4", 0, math.inf),
    "cancel_on_error": ("yes", None, math.nan),
    "adaptive_polling": ("yes", None, math.nan),
    "expiry_seconds": ("60", -1, math.inf),
    "lost_answer_settle_seconds": ("2", -1, math.nan),
    "expected_bucket_owner": (7, "123", math.nan),
    "encryption": ("x", None, math.inf),
    "stale_after_seconds": ("600", 1, math.inf),
    "progress": ("x", None, math.nan),
    "seams": ("x", None, math.nan),
}
KINDS = ("wrong type", "out of range", "non-finite")


def _rows(table: dict[str, tuple[Any, Any, Any]]) -> list[Any]:
    return [
        pytest.param(name, value, id=f"{name}-{kind}")
        for name, values in table.items()
        for kind, value in zip(KINDS, values, strict=True)
        if value is not None
    ]


def _base(clients: AwsClients) -> dict[str, Any]:
    clock = FakeClock()
    return {
        "batch_name": "root", "job_queue": "q", "container": "img", "job_bucket": "bucket",
        "clients": clients, "progress": SilentProgress(),
        "seams": Seams(clock=clock, sleep=clock.sleep, heartbeat=False),
    }  # fmt: skip


@pytest.mark.parametrize(("name", "value"), _rows(CONSTRUCTOR))
def test_every_constructor_argument(clients: AwsClients, name: str, value: Any) -> None:
    kwargs = {**_base(clients), name: value}
    if name == "session":
        del kwargs["clients"]  # one of the two
    with pytest.raises(PcrInputError):
        JobSubmitter(**kwargs)


ATTACH: dict[str, tuple[Any, Any, Any]] = {
    "batch_id": (7, "no-uuid-here", math.nan),
    "job_queue": (7, "", math.inf),
    "job_bucket": (7, "", math.nan),
    "aws_region": (7, "not a region!", math.inf),
    "clients": ("x", None, math.nan),
    "polling_interval_seconds": ("30", -1, math.inf),
    "request_throttling_milliseconds": ("100", -1, math.nan),
    "io_workers": ("4", 0, math.inf),
    "stale_after_seconds": ("600", 1, math.nan),
    "progress": ("x", None, math.inf),
}


@pytest.mark.parametrize(("name", "value"), _rows(ATTACH))
def test_every_attach_argument(clients: AwsClients, name: str, value: Any) -> None:
    base = _base(clients)
    kwargs: dict[str, Any] = {
        "batch_id": "root_00000000-0000-4000-8000-000000000000", "job_queue": "q",
        "job_bucket": "bucket", "clients": clients, "progress": base["progress"],
        "seams": base["seams"],
    }  # fmt: skip
    kwargs[name] = value
    with pytest.raises(PcrInputError):
        JobSubmitter.attach(**kwargs)
