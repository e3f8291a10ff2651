"""Every row of the bad-input table in CONTRIBUTING.md: the typed error, no AWS call before it."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from pcr_sdk import (
    BatchId,
    BatchLayout,
    InvalidBatchNameError,
    InvalidJobSpecError,
    JobSubmitter,
    PcrError,
    PcrInputError,
    SilentProgress,
    UnknownDependencyError,
)
from pcr_sdk.advanced import Seams, Submitter
from pcr_sdk.testing import MotoWorld
from tests.support.calls import CallLog
from tests.support.fakes import FakeClock
from tests.support.submitters import new_submitter

pytestmark = pytest.mark.integration  # every test here runs on a MotoWorld


def submitter(world: MotoWorld, **kw: Any) -> JobSubmitter:
    clock = FakeClock()
    return JobSubmitter(
        kw.pop("name", "bad-input"),
        kw.pop("queue", world.queue),
        "img",
        world.bucket,
        clients=world.clients,
        seams=Seams(clock=clock, sleep=clock.sleep),
        progress=SilentProgress(),
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
def test_construction_rows(
    moto_world: MotoWorld, row: str, kwargs: dict[str, Any], error: type[PcrError]
) -> None:
    log = CallLog(moto_world.clients)
    with pytest.raises(error):
        submitter(moto_world, **kwargs)
    assert log.calls == [], row
    assert issubclass(error, ValueError)


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
    moto_world: MotoWorld, row: str, call: Callable[[JobSubmitter], object], error: type[PcrError]
) -> None:
    s = submitter(moto_world)
    log = CallLog(moto_world.clients)
    with pytest.raises(error):
        call(s)
    assert log.calls == [], row
    s.close()


def _submitter_service(world: MotoWorld) -> Submitter:
    return Submitter(
        world.clients.batch, job_queue=world.queue, bucket=world.bucket,
        layout=BatchLayout(str(BatchId.new("svc"))), job_definition="d",
    )  # fmt: skip


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
def test_request_rows(moto_world: MotoWorld, row: str, call: Callable[[Submitter], object]) -> None:
    service = _submitter_service(moto_world)
    log = CallLog(moto_world.clients)
    with pytest.raises(InvalidJobSpecError):
        call(service)
    assert log.calls == [], row


def test_resource_name_escaping_the_prefix(moto_world: MotoWorld) -> None:
    s = submitter(moto_world)
    log = CallLog(moto_world.clients)
    with pytest.raises(InvalidJobSpecError):
        s._store.put_resource(0, "../../other-batch/x", b"")
    assert log.calls == []
    s.close()


# -- at run time -------------------------------------------------------------------------------


def make(world: MotoWorld, clock: FakeClock | None = None, **kw: Any) -> JobSubmitter:
    return new_submitter(world, clock, **{"polling_interval_seconds": 60, **kw})


def active_definitions(world: MotoWorld) -> list[str]:
    found = world.clients.batch.describe_job_definitions(status="ACTIVE")["jobDefinitions"]
    return [d["jobDefinitionName"] for d in found]


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
    moto_world: MotoWorld, row: str, kwargs: dict[str, Any]
) -> None:
    """Defect 1: these raised after RegisterJobDefinition (orphaning it), or raised raw."""
    log = CallLog(moto_world.clients)
    with pytest.raises(PcrInputError):
        make(moto_world, **kwargs)
    assert log.calls == [], row
    assert active_definitions(moto_world) == []


def test_no_region_at_all_is_an_input_error(
    moto_world: MotoWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defect 1: botocore's NoRegionError escaped."""
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    with pytest.raises(PcrInputError, match="no AWS region"):
        JobSubmitter("r", moto_world.queue, "img", moto_world.bucket, session=boto3.Session())


def test_bad_inputs_are_refused_before_an_index_is_reserved(moto_world: MotoWorld) -> None:
    """Defect 1: deep nesting raised RecursionError; a lone surrogate UnicodeEncodeError after
    an index was reserved (the next job got index 1)."""
    sub = make(moto_world)
    deep: object = 0
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


def test_a_wait_with_a_nan_timeout_is_refused(moto_world: MotoWorld) -> None:
    """Defect 1: timeout=nan never timed out."""
    sub = make(moto_world)
    sub.submit_job({})
    log = CallLog(moto_world.clients)
    with pytest.raises(PcrInputError):
        sub.wait_until_jobs_finished(timeout=math.nan)
    assert log.calls == []
    sub.close()
