"""Never lose a batch: manifest and reattach, cancellation, failure details, lost responses."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from pcr_sdk import (
    AwsError,
    FailureKind,
    JobStatus,
    JobSubmitter,
    S3Encryption,
    SilentProgress,
    WaitTimeoutError,
)
from pcr_sdk._private import assembly
from pcr_sdk.advanced import JobState, Seams
from pcr_sdk.testing import Fault, MotoWorld
from tests.support.fakes import FakeClock

pytestmark = pytest.mark.integration  # every test here runs on a MotoWorld


def make(world: MotoWorld, clock: FakeClock, **kw: Any) -> JobSubmitter:
    return JobSubmitter(
        "rel", world.queue, "img", world.bucket, clients=world.clients,
        seams=Seams(clock=clock, sleep=clock.sleep), progress=SilentProgress(), **kw,
    )  # fmt: skip


def attach(world: MotoWorld, batch_id: str, clock: FakeClock) -> JobSubmitter:
    return JobSubmitter.attach(
        batch_id, job_queue=world.queue, job_bucket=world.bucket, clients=world.clients,
        seams=Seams(clock=clock, sleep=clock.sleep), progress=SilentProgress(),
    )  # fmt: skip


def manifest_keys(world: MotoWorld, batch_id: str) -> list[str]:
    listed = world.clients.s3.list_objects_v2(
        Bucket=world.bucket, Prefix=f"jobs/{batch_id}/manifest/"
    )
    keys = [o["Key"] for o in listed.get("Contents", [])]
    return [key for key in keys if "/session-" not in key]  # not the session records


def manifest_chunks(world: MotoWorld, batch_id: str) -> list[Any]:
    """The chunks that record jobs (not the ones that only reserve indexes ahead)."""
    chunks = [
        json.loads(world.clients.s3.get_object(Bucket=world.bucket, Key=key)["Body"].read())
        for key in manifest_keys(world, batch_id)
    ]
    return [chunk for chunk in chunks if chunk["jobs"] or chunk["arrays"]]


@pytest.mark.moto_world(polls_to_finish=1)
def test_jobs_missing_from_the_manifest_are_recovered_from_aws_batch(moto_world: MotoWorld) -> None:
    clock = FakeClock()
    moto_world.script.worker(lambda d: {"v": d["i"]})
    first = make(moto_world, clock)
    ids = [first.submit_job({"i": i}) for i in range(3)]
    batch_id = first.get_batch_id()
    # the jobs are buffered (the process "dies" here); only their indexes went ahead
    assert [k.rsplit("/", 1)[1][:6] for k in manifest_keys(moto_world, batch_id)] == ["000100"]
    again = attach(moto_world, batch_id, clock)
    assert [j.job_id for j in again.jobs] == ids
    assert len(manifest_keys(moto_world, batch_id)) == 2  # what AWS knew is durable now
    again.wait_until_jobs_finished()
    assert [json.loads(o or "null") for o in again.get_all_outputs()] == [
        {"v": 0}, {"v": 1}, {"v": 2},
    ]  # fmt: skip
    assert len(moto_world.submitted()) == 3  # attaching submitted nothing


def test_the_manifest_outlives_aws_batch_memory(
    moto_world: MotoWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    first = make(moto_world, clock)
    plain = first.submit_job({"i": 0})
    children = first.submit_jobs([{"i": i} for i in range(1, 4)])
    first.close()  # flushes the manifest
    # AWS Batch shows finished jobs for about a day; after that only the manifest knows
    monkeypatch.setattr(assembly, "scan_batch_jobs", lambda *a, **k: [])
    again = attach(moto_world, first.get_batch_id(), clock)
    assert [(j.job_id, j.index) for j in again.jobs] == [(plain, 0)] + [
        (c, i + 1) for i, c in enumerate(children)
    ]
    assert again.jobs[1].array_id == children[0].split(":")[0]
    assert again.closed


def test_a_crash_between_manifest_chunks_leaves_it_readable(moto_world: MotoWorld) -> None:
    clock = FakeClock()
    first = make(moto_world, clock)
    first._manifest.flush_every = 2
    ids = [first.submit_job({"i": i}) for i in range(5)]
    chunks = manifest_chunks(moto_world, first.get_batch_id())
    assert len(chunks) == 2  # jobs 0-1 and 2-3; job 4 still buffered at the "crash"
    assert [[j[0] for j in c["jobs"]] for c in chunks] == [ids[0:2], ids[2:4]]
    assert all(c["batch"]["batch_id"] == first.get_batch_id() for c in chunks)
    assert [j.job_id for j in attach(moto_world, first.get_batch_id(), clock).jobs] == ids


@pytest.mark.parametrize("how", ["submit_job", "submit_jobs(array=False)", "array"])
def test_a_manifest_chunk_that_fails_mid_submission_loses_no_job(
    moto_world: MotoWorld, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The jobs are in AWS Batch: the submit call returns them, the chunk goes out later."""
    clock = FakeClock()
    first = make(moto_world, clock)
    first._manifest.flush_every = 2
    real_put = first._store.put_json
    failures = iter([True])

    def put_json(key: str, value: Any) -> None:
        if (value["jobs"] or value["arrays"]) and next(failures, False):
            raise AwsError("PutObject failed (InternalError)", operation="PutObject")
        real_put(key, value)

    monkeypatch.setattr(first._store, "put_json", put_json)
    inputs = [{"i": i} for i in range(4)]
    if how == "submit_job":
        ids = [first.submit_job(data) for data in inputs]
    else:
        ids = first.submit_jobs(inputs, array=how == "array")
    assert len(ids) == 4
    assert [j.job_id for j in first.jobs] == ids  # the live submitter knows them all
    first._manifest.flush()
    written = manifest_chunks(moto_world, first.get_batch_id())
    recorded = {j[0] for c in written for j in c["jobs"]}
    recorded |= {f"{a[0]}:{i}" for c in written for a in c["arrays"] for i in range(a[2])}
    assert recorded == set(ids)  # nothing the failed chunk held was dropped


def test_a_lost_submit_response_leaves_exactly_one_job(moto_world: MotoWorld) -> None:
    submitter = make(moto_world, FakeClock())
    lost = moto_world.faults.add(service="batch", operation="SubmitJob", kind=Fault.LOST_RESPONSE)
    job_id = submitter.submit_job({"i": 0})
    assert lost.injected == 1
    assert [v.job_id for v in moto_world.jobs()] == [job_id]  # applied once, found, not resent
    assert submitter.jobs[0].job_id == job_id


def test_a_server_error_that_was_not_applied_is_resent_once(moto_world: MotoWorld) -> None:
    submitter = make(moto_world, FakeClock())
    moto_world.faults.add(service="batch", operation="SubmitJob", kind=Fault.SERVER_ERROR)
    job_id = submitter.submit_job({"i": 0})
    assert [v.job_id for v in moto_world.jobs()] == [job_id]


@pytest.mark.moto_world(polls_to_finish=10)
def test_cancel_terminates_every_unfinished_job_and_reports_final_states(
    moto_world: MotoWorld,
) -> None:
    clock = FakeClock()
    moto_world.script.polls(index=0, n=0)
    submitter = make(moto_world, clock)
    done = submitter.submit_job({"i": 0})
    running = submitter.submit_job({"i": 1})
    children = submitter.submit_jobs([{"i": i} for i in range(2, 5)])
    submitter.get_result(done)
    results = submitter.cancel("user asked")
    assert set(results) == {running, *children}
    assert all(r.status is JobStatus.FAILED for r in results.values())
    assert {r.failure for r in results.values()} == {FailureKind.TERMINATED}
    assert results[running].status_reason == "user asked"
    assert submitter.get_result(done).status is JobStatus.SUCCEEDED
    assert submitter.closed


@pytest.mark.moto_world(polls_to_finish=10)
def test_context_manager_cancels_on_error_when_asked(moto_world: MotoWorld) -> None:
    submitter = make(moto_world, FakeClock(), cancel_on_error=True)

    def user_code() -> None:
        with submitter:
            submitter.submit_job({"i": 0})
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        user_code()
    (job,) = submitter.jobs
    state = moto_world.clients.batch.describe_jobs(jobs=[job.job_id])["jobs"][0]
    assert state["status"] == "FAILED"
    assert "RuntimeError" in state["statusReason"]
    assert submitter.closed


@pytest.mark.moto_world(polls_to_finish=20)
def test_timeout_reports_how_long_jobs_sat_in_runnable(moto_world: MotoWorld) -> None:
    clock = FakeClock()
    submitter = make(moto_world, clock, polling_interval_seconds=10)
    job_id = submitter.submit_job({"i": 0})
    with pytest.raises(WaitTimeoutError) as info:
        submitter.wait_until_jobs_finished(timeout=45)
    assert info.value.unfinished == {job_id: "RUNNING"}
    assert info.value.runnable_seconds == {}  # it moved past RUNNABLE at 30 s
    assert submitter.closed


FAILED = JobStatus.FAILED
OOM = "OutOfMemoryError: Container killed due to memory usage"


@pytest.mark.parametrize(
    ("state", "kind"),
    [
        (JobState("j", JobStatus.SUCCEEDED, exit_code=0), None),
        (JobState("j", FAILED, exit_code=3), FailureKind.NON_ZERO_EXIT),
        (JobState("j", FAILED, exit_code=137, container_reason=OOM), FailureKind.OUT_OF_MEMORY),
        (
            JobState("j", FAILED, status_reason="Job attempt duration exceeded timeout"),
            FailureKind.TIMEOUT,
        ),
        (
            JobState("j", FAILED, status_reason="Dependent Job failed"),
            FailureKind.DEPENDENCY_FAILED,
        ),
        (JobState("j", FAILED, cancelled=True), FailureKind.CANCELLED),
        (JobState("j", FAILED, terminated=True, exit_code=137), FailureKind.TERMINATED),
        (
            JobState("j", FAILED, status_reason="Host EC2 terminated"),
            FailureKind.INFRASTRUCTURE,
        ),
    ],
)
def test_failures_are_classified(state: JobState, kind: FailureKind | None) -> None:
    assert state.failure is kind


@pytest.mark.moto_world(polls_to_finish=1)
def test_failed_job_details_and_log_tail(moto_world: MotoWorld) -> None:
    clock = FakeClock()
    moto_world.script.fail(
        index=0, exit_code=2, log_lines=["starting", "Traceback ...", "ValueError: boom"]
    )
    submitter = make(moto_world, clock)
    job_id = submitter.submit_job({"i": 0})
    never = submitter.submit_job({"i": 1}, [job_id])
    submitter.wait_until_jobs_finished()
    result = submitter.get_result(job_id)
    assert (result.exit_code, result.attempts, result.failure) == (
        2,
        1,
        FailureKind.NON_ZERO_EXIT,
    )
    assert result.log_stream_name
    assert submitter.logs(job_id, tail=2) == ["Traceback ...", "ValueError: boom"]
    assert submitter.get_result(never).failure is FailureKind.DEPENDENCY_FAILED
    assert submitter.logs(never) == []  # it never ran


@pytest.mark.moto_world(polls_to_finish=1)
def test_credentials_never_reach_logs_reprs_or_errors(
    moto_world: MotoWorld, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY"
    with caplog.at_level(logging.DEBUG):
        moto_world.script.worker(lambda d: d)
        submitter = JobSubmitter(
            "sec", moto_world.queue, "img", moto_world.bucket, aws_region=moto_world.region,
            aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key=secret,
            polling_interval_seconds=0, request_throttling_milliseconds=0,
            progress=SilentProgress(),
        )  # fmt: skip
        job_id = submitter.submit_job({"i": 1})
        submitter.wait_until_jobs_finished()
        texts = [repr(submitter), str(submitter.get_result(job_id)), repr(vars(submitter))]
        with pytest.raises(Exception) as info:  # noqa: PT011 - any error: its text is the subject
            submitter.get_output("no-such-job")
        texts.append(str(info.value))
    assert len(caplog.records) > 10
    assert all(secret not in text for text in [caplog.text, *texts])


def test_expected_bucket_owner_and_encryption_go_with_every_s3_call(moto_world: MotoWorld) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        seen.append((model.name, dict(params)))

    moto_world.clients.s3.meta.events.register("provide-client-params.s3.*", record)
    submitter = make(
        moto_world, FakeClock(), expected_bucket_owner="123456789012",
        encryption=S3Encryption(algorithm="aws:kms", kms_key_id="alias/pcr"),
    )  # fmt: skip
    submitter.submit_job({"i": 0})
    submitter.submit_jobs([{"i": 1}, {"i": 2}])
    submitter.get_all_outputs()
    submitter.close()
    assert {name for name, _ in seen} >= {"PutObject", "GetObject"}
    for name, params in seen:
        assert params["ExpectedBucketOwner"] == "123456789012", name
        if name == "PutObject":
            assert params["ServerSideEncryption"] == "aws:kms"
            assert params["SSEKMSKeyId"] == "alias/pcr"


def test_kms_key_needs_kms() -> None:
    with pytest.raises(ValueError, match="aws:kms"):
        S3Encryption(algorithm="AES256", kms_key_id="k")


def test_an_array_known_only_to_aws_batch_is_made_durable_on_reattach(
    moto_world: MotoWorld,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock()
    first = make(moto_world, clock)
    monkeypatch.setattr(first._manifest, "add_array", lambda array: None)  # "crash" before it
    children = first.submit_jobs([{"i": i} for i in range(3)])
    batch_id = first.get_batch_id()
    assert manifest_chunks(moto_world, batch_id) == []
    monkeypatch.undo()
    again = attach(moto_world, batch_id, clock)
    assert [j.job_id for j in again.jobs] == children
    (chunk,) = manifest_chunks(moto_world, batch_id)
    assert chunk["arrays"] == [[children[0].split(":")[0], 0, 3, [], 1, []]]  # attempt 1


def test_reattach_describes_array_parents_not_their_listed_children(
    moto_world: MotoWorld,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Some backends list children by job name (moto did); discovery finds them through the
    parent only."""
    clock = FakeClock()
    first = make(moto_world, clock)
    children = first.submit_jobs([{"i": i} for i in range(3)])
    described: list[list[str]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        described.append(list(params["jobs"]))

    moto_world.clients.batch.meta.events.register(
        "provide-client-params.batch.DescribeJobs", record
    )
    with caplog.at_level(logging.WARNING, logger="pcr_sdk"):
        again = attach(moto_world, first.get_batch_id(), clock)
    assert [j.job_id for j in again.jobs] == children
    assert described == [[children[0].split(":")[0]]]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
