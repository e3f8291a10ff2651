"""Every row of the bad-input table in CONTRIBUTING.md: the typed error, and no request sent.

Every row runs without AWS: the clients are `NoCalls`, whose `before-send` raises, so a row
that made a request would fail, and a setting refused before RegisterJobDefinition leaves no
definition behind. A row of a call on a live submitter gets one whose registration botocore's
`Stubber` answered (`offline_submitter`): no other call is answered. Two tests that go on to
submit after the refusal run on a `MotoWorld`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from pcr_sdk import (
    BatchId,
    BatchLayout,
    InvalidBatchNameError,
    InvalidJobSpecError,
    JobSubmitter,
    JsonValue,
    PcrError,
    PcrInputError,
    SilentProgress,
    UnknownDependencyError,
)
from pcr_sdk.advanced import Seams, Submitter
from tests.support.calls import CallLog
from tests.support.fakes import FakeClock, NoCalls
from tests.support.submitters import new_submitter, offline_submitter

if TYPE_CHECKING:
    from pcr_sdk.testing import MotoWorld

QUEUE = "q"
BUCKET = "bkt"


def submitter(no_calls: NoCalls, **kw: Any) -> JobSubmitter:
    clock = FakeClock()
    return JobSubmitter(
        kw.pop("name", "bad-input"),
        kw.pop("queue", QUEUE),
        "img",
        BUCKET,
        clients=no_calls.clients,
        seams=Seams(clock=clock, sleep=clock.sleep),
        progress=SilentProgress(),
        polling_interval_seconds=kw.pop("polling_interval_seconds", 30),
        **kw,
    )


CONSTRUCTION: list[tuple[str, dict[str, Any], type[PcrError]]] = [
    ("batch name too long", {"name": "a" * 91}, InvalidBatchNameError),
    ("batch name bad first character", {"name": "_x"}, InvalidBatchNameError),
    ("batch name bad characters", {"name": "a b"}, InvalidBatchNameError),
    ("timeout under 60 s", {"timeout_in_hours": 0.01}, InvalidJobSpecError),
    ("memory out of range", {"memory_in_mb": 0}, InvalidJobSpecError),
    ("vcpus out of range", {"vcpus": 0}, InvalidJobSpecError),
    ("gpus out of range", {"gpus": -1}, InvalidJobSpecError),
    ("environment name AWS_BATCH*", {"environment": {"AWS_BATCH_X": "1"}}, InvalidJobSpecError),
    ("retry attempts over 10", {"retry_attempts": 11}, InvalidJobSpecError),
]


@pytest.mark.parametrize(("row", "kwargs", "error"), CONSTRUCTION, ids=[r[0] for r in CONSTRUCTION])
def test_construction_rows(row: str, kwargs: dict[str, Any], error: type[PcrError]) -> None:
    no_calls = NoCalls()
    with pytest.raises(error):
        submitter(no_calls, **kwargs)
    assert no_calls.sent == [], row
    assert issubclass(error, ValueError)


LATE_OR_RAW: list[tuple[str, dict[str, Any]]] = [
    ("polling interval negative", {"polling_interval_seconds": -1}),
    ("request throttling negative", {"request_throttling_milliseconds": -5}),
    ("io_workers zero", {"io_workers": 0}),
    ("timeout_in_hours NaN", {"timeout_in_hours": math.nan}),
    ("timeout_in_hours infinite", {"timeout_in_hours": math.inf}),
    ("polling interval NaN", {"polling_interval_seconds": math.nan}),
    ("request throttling infinite", {"request_throttling_milliseconds": math.inf}),
    ("region with spaces", {"aws_region": "eu central 1"}),
    ("region empty", {"aws_region": ""}),
    ("tag key over 128 characters", {"tags": {"k" * 129: "v"}}),
    ("tag value over 256 characters", {"tags": {"k": "v" * 257}}),
    ("expiry NaN", {"expiry_seconds": math.nan}),
    ("bucket owner not an account id", {"expected_bucket_owner": "me"}),
]


@pytest.mark.parametrize(("row", "kwargs"), LATE_OR_RAW, ids=[r[0] for r in LATE_OR_RAW])
def test_a_bad_setting_fails_before_any_call_and_leaves_nothing(
    row: str, kwargs: dict[str, Any]
) -> None:
    """Defect 1: these raised after RegisterJobDefinition (orphaning it), or raised raw. No
    request at all: nothing registered, nothing left behind."""
    no_calls = NoCalls()
    with pytest.raises(PcrInputError):
        submitter(no_calls, **kwargs)
    assert no_calls.sent == [], row


def test_no_region_at_all_is_an_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect 1: botocore's NoRegionError escaped."""
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)  # no region in the user's own config
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    with pytest.raises(PcrInputError, match="no AWS region"):
        JobSubmitter("r", QUEUE, "img", BUCKET, session=boto3.Session())


SUBMISSION: list[tuple[str, Callable[[JobSubmitter], object], type[PcrError]]] = [
    ("input not JSON-serializable", lambda s: s.submit_job({"x": {1, 2}}), InvalidJobSpecError),
    ("input with NaN", lambda s: s.submit_job({"x": float("nan")}), InvalidJobSpecError),
    ("input with Infinity", lambda s: s.submit_jobs([{"x": float("inf")}]), InvalidJobSpecError),
    (
        "more than 20 dependencies",
        lambda s: s.submit_job({}, [f"j{i}" for i in range(21)]),
        InvalidJobSpecError,
    ),
    ("unknown dependency id", lambda s: s.submit_job({}, ["nope"]), UnknownDependencyError),
]


@pytest.mark.parametrize(("row", "call", "error"), SUBMISSION, ids=[r[0] for r in SUBMISSION])
def test_submission_rows(
    row: str, call: Callable[[JobSubmitter], object], error: type[PcrError]
) -> None:
    with offline_submitter() as (s, no_calls), pytest.raises(error):
        call(s)  # any Batch call but the stubbed registration would fail too
    assert no_calls.sent == [], row


@pytest.mark.parametrize(
    ("row", "call"),
    [
        (
            "container overrides over 8,192 characters",
            lambda s: s.submit(0, environment={"E": "x" * 9000}),
        ),
        ("SubmitJob request over 30 KiB", lambda s: s.submit(0, depends_on=["j" * 1600] * 20)),
        ("array larger than 10,000", lambda s: s.submit_array(0, 10_001)),
        ("array smaller than 2", lambda s: s.submit_array(0, 1)),
        ("timeout override under 60 s", lambda s: s.submit(0, timeout_seconds=30)),
    ],
)  # fmt: skip
def test_request_rows(row: str, call: Callable[[Submitter], object]) -> None:
    no_calls = NoCalls()
    service = Submitter(
        no_calls.clients.batch, job_queue=QUEUE, bucket=BUCKET,
        layout=BatchLayout(str(BatchId.new("svc"))), job_definition="d",
    )  # fmt: skip
    with pytest.raises(InvalidJobSpecError):
        call(service)
    assert no_calls.sent == [], row


def test_resource_name_escaping_the_prefix() -> None:
    with offline_submitter() as (s, no_calls), pytest.raises(InvalidJobSpecError):
        s._store.put_resource(0, "../../other-batch/x", b"")
    assert no_calls.sent == []


# -- refused, then the batch goes on -------------------------------------------------------------


@pytest.mark.integration
def test_bad_inputs_are_refused_before_an_index_is_reserved(moto_world: MotoWorld) -> None:
    """Defect 1: deep nesting raised RecursionError; a lone surrogate UnicodeEncodeError after
    an index was reserved (the next job got index 1)."""
    sub = new_submitter(moto_world, polling_interval_seconds=60)
    deep: JsonValue = 0
    for _ in range(5000):
        deep = [deep]
    log = CallLog(moto_world.clients)
    for bad in (deep, {"text": "\ud800"}, {"x": math.nan}):
        with pytest.raises(InvalidJobSpecError):
            sub.submit_job(bad)
    with pytest.raises(InvalidJobSpecError, match="input 1"):
        sub.submit_jobs([{"ok": 1}, {"x": math.inf}], array=False)
    assert log.calls == []
    job_id = sub.submit_job({"ok": True})
    assert sub.jobs[0].job_id == job_id
    assert sub.jobs[0].index == 0
    sub.close()


@pytest.mark.integration
@pytest.mark.moto_world(polls_to_finish=1)
def test_a_wait_with_a_nan_timeout_is_refused(moto_world: MotoWorld) -> None:
    """Defect 1: timeout=nan never timed out."""
    sub = new_submitter(moto_world, polling_interval_seconds=60)
    sub.submit_job({})
    log = CallLog(moto_world.clients)
    with pytest.raises(PcrInputError):
        sub.wait_until_jobs_finished(timeout=math.nan)
    assert log.calls == []
    sub.close()
