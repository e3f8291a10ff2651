"""Every row of the bad-input table in CONTRIBUTING.md: the typed error, no AWS call before it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pcr_sdk import (
    AccessDeniedError,
    AwsClients,
    BatchId,
    BatchLayout,
    BucketNotFoundError,
    InvalidBatchNameError,
    InvalidJobSpecError,
    JobNotFoundError,
    JobQueueNotFoundError,
    JobSubmitter,
    OutputMalformedError,
    PcrError,
    SilentProgress,
    UnknownDependencyError,
)
from pcr_sdk.advanced import Seams, Submitter
from pcr_sdk.testing import MotoWorld
from tests.fakes import FakeClock

pytestmark = pytest.mark.integration  # every test here runs on a MotoWorld


class CallLog:
    def __init__(self, clients: AwsClients) -> None:
        self.calls: list[str] = []
        for client in (clients.batch, clients.s3, clients.logs):
            client.meta.events.register("before-call.*.*", self._record)

    def _record(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)


@pytest.fixture
def world() -> Iterator[MotoWorld]:
    with MotoWorld() as w:
        yield w


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
    world: MotoWorld, row: str, kwargs: dict[str, Any], error: type[PcrError]
) -> None:
    log = CallLog(world.clients)
    with pytest.raises(error):
        submitter(world, **kwargs)
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
    world: MotoWorld, row: str, call: Callable[[JobSubmitter], object], error: type[PcrError]
) -> None:
    s = submitter(world)
    log = CallLog(world.clients)
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
def test_request_rows(world: MotoWorld, row: str, call: Callable[[Submitter], object]) -> None:
    service = _submitter_service(world)
    log = CallLog(world.clients)
    with pytest.raises(InvalidJobSpecError):
        call(service)
    assert log.calls == [], row


def test_resource_name_escaping_the_prefix(world: MotoWorld) -> None:
    s = submitter(world)
    log = CallLog(world.clients)
    with pytest.raises(InvalidJobSpecError):
        s._store.put_resource(0, "../../other-batch/x", b"")
    assert log.calls == []
    s.close()


# -- at run time -------------------------------------------------------------------------------


def test_unknown_job_id(world: MotoWorld) -> None:
    s = submitter(world)
    for call in (s.get_output, s.get_output_json, s.get_result, s.get_job_directory):
        with pytest.raises(JobNotFoundError):
            call("not-a-job")
    s.close()


def test_malformed_output_is_a_typed_error_but_none_in_the_seed_api(world: MotoWorld) -> None:
    s = submitter(world)
    job_id = s.submit_job({})
    world.clients.s3.put_object(
        Bucket=world.bucket, Key=f"{s.get_job_directory(job_id)}/output.json", Body=b"{oops"
    )
    with pytest.raises(OutputMalformedError):
        s.get_output_json(job_id)
    assert s.get_output(job_id) == "{oops"  # the seed API returns the string as it is
    s.close()


def test_missing_bucket(world: MotoWorld) -> None:
    """The constructor writes the batch's session to the bucket: it fails there, and
    deregisters the definition it registered."""
    with pytest.raises(BucketNotFoundError) as info:
        JobSubmitter(
            "b", world.queue, "img", "no-such-bucket", clients=world.clients,
            progress=SilentProgress(),
        )  # fmt: skip
    assert info.value.bucket == "no-such-bucket"
    found = world.clients.batch.describe_job_definitions(status="ACTIVE")
    assert [d for d in found["jobDefinitions"] if d["jobDefinitionName"].startswith("b_")] == []


def test_wrong_queue_or_region(world: MotoWorld) -> None:
    s = submitter(world, queue="no-such-queue")
    with pytest.raises(JobQueueNotFoundError) as info:
        s.submit_job({})
    assert info.value.job_queue == "no-such-queue"
    s.close()


def test_access_denied(world: MotoWorld) -> None:
    s = submitter(world)

    def deny(**_: Any) -> None:
        from botocore.exceptions import ClientError

        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}, "SubmitJob"
        )

    world.clients.batch.meta.events.register_first("before-call.batch.SubmitJob", deny)
    with pytest.raises(AccessDeniedError):
        s.submit_job({})
    s.close()
