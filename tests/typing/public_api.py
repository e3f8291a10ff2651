"""Never executed: mypy checks that the public API has the types users rely on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal, TypedDict

import boto3
from mypy_boto3_batch import BatchClient
from mypy_boto3_s3 import S3Client
from pydantic import BaseModel
from typing_extensions import assert_type

from pcr_sdk import (
    AwsClients,
    BatchId,
    BatchName,
    FailureKind,
    FailureKindValue,
    InvalidBatchNameError,
    JobInput,
    JobResult,
    JobStatus,
    JobSubmitter,
    JsonValue,
    PcrError,
    PollProgress,
    RateGovernor,
    RetryPolicy,
    RetryRule,
)
from pcr_sdk.advanced import JobSpec
from pcr_sdk.local import LocalBackend
from pcr_sdk.worker import JobContext, run


def seed_usage() -> None:
    submitter = JobSubmitter("example", "queue", "python:3.11", "bucket")
    job_id = submitter.submit_job({"x": 2, "y": 3})
    assert_type(job_id, str)
    second = submitter.submit_job({"x": 1}, [job_id], lambda: None)
    assert_type(second, str)
    assert_type(submitter.wait_until_jobs_finished(), None)
    assert_type(submitter.get_all_outputs(), list[str | None])
    assert_type(submitter.get_output(job_id), str)
    assert_type(submitter.get_batch_id(), str)
    assert_type(submitter.get_job_directory(job_id), str)


def new_usage(clients: AwsClients) -> None:
    with JobSubmitter("example", "q", "img", "b", clients=clients, vcpus=2, gpus=0) as submitter:
        result = submitter.get_result(submitter.submit_job({}))
        assert_type(result, JobResult)
        assert_type(result.status, JobStatus)
        assert_type(result.exit_code, int | None)
        assert_type(submitter.batch_id, BatchId)
    assert_type(clients.batch, BatchClient)
    assert_type(clients.s3, S3Client)


def models() -> None:
    assert_type(BatchName.of("x"), BatchName)
    assert_type(BatchId.new("x"), BatchId)
    assert_type(JobSpec.of({"a": 1}).depends_on, tuple[str, ...])
    assert_type(RateGovernor.per_second(40).acquire(), float)
    assert_type(PollProgress(cycle=1, total=1).finished, int)
    try:
        BatchName.of("-x")
    except InvalidBatchNameError as err:
        assert_type(err.reason, str)
        as_root: PcrError = err
        as_value_error: ValueError = err
        assert_type(as_root, PcrError)
        assert_type(as_value_error, ValueError)


def worker() -> None:
    context = JobContext.from_env()
    assert_type(context.output_key, str)
    assert_type(context.put_resource("a", b""), str)


class In(BaseModel):
    x: int


class Out(BaseModel):
    total: int


def typed_handler(data: In) -> Out:
    return Out(total=data.x)


def beyond_the_seed(clients: AwsClients) -> None:
    policy = RetryPolicy.spot_reclaims(attempts=4)
    assert_type(policy, RetryPolicy)
    assert_type(policy.attempts, int)
    assert_type(policy.rules, tuple[RetryRule, ...])
    rule = RetryRule(action="EXIT", on_exit_code="3")
    assert_type(rule.action, Literal["RETRY", "EXIT"])
    assert_type(policy.action_for(exit_code=1), Literal["RETRY", "EXIT"])
    with JobSubmitter("b", "q", "img", "bucket", clients=clients, retry=policy) as submitter:
        assert_type(submitter.submit_job(In(x=1)), str)
        assert_type(submitter.submit_jobs([In(x=1), In(x=2)]), list[str])
        results = submitter.as_completed(timeout=60)
        assert_type(results, Iterator[JobResult])
        for result in results:
            assert_type(result.output, str | None)
            assert_type(result.output_as(Out), Out | None)
        assert_type(submitter.get_outputs(Out), list[Out | None])
        assert_type(submitter.resubmit_failed(), list[str])
        assert_type(submitter.resubmit_failed(kinds={FailureKind.TIMEOUT}), list[str])
        assert_type(submitter.jobs[0].attempt, int)
    JobSubmitter("b", "q", "img", "bucket", retry_attempts=3)


def typed_worker() -> None:
    assert_type(run(typed_handler), None)


class Point(TypedDict):
    x: int
    label: str


def job_inputs(submitter: JobSubmitter, counts: dict[str, int], rows: list[Point]) -> None:
    """Inputs are JSON built from Mapping and Sequence, a TypedDict, or a pydantic model."""
    assert_type(submitter.submit_job(counts), str)
    point: Point = {"x": 1, "label": "a"}
    assert_type(submitter.submit_job(point), str)
    assert_type(submitter.submit_job(In(x=1)), str)
    assert_type(submitter.submit_jobs([counts, counts]), list[str])
    assert_type(submitter.submit_jobs(rows), list[str])
    assert_type(submitter.submit_jobs([In(x=1)]), list[str])
    nested: dict[str, list[tuple[float, bool | None]]] = {"a": [(1.5, None)]}
    assert_type(submitter.submit_job(nested), str)
    as_json: JsonValue = counts
    single: JobInput = point
    assert_type(submitter.submit_jobs([as_json, single]), list[str])
    # not JSON: each of these must stay a mypy error (warn_unused_ignores proves it)
    submitter.submit_jobs([object(), {1, 2}])  # type: ignore[list-item]
    submitter.submit_job({1, 2})  # type: ignore[arg-type]
    submitter.submit_job(object())  # type: ignore[arg-type]
    submitter.submit_job([{"a": {1}}])  # type: ignore[dict-item]


def rerun_kinds(submitter: JobSubmitter) -> None:
    """`kinds=` takes FailureKinds or their values, as the docstring says."""
    assert_type(submitter.resubmit_failed(kinds={"timeout"}), list[str])
    assert_type(submitter.resubmit_failed(kinds=["out-of-memory", FailureKind.TIMEOUT]), list[str])
    assert_type(submitter.plan_rerun(kinds={"non-zero-exit"}), list[JobResult])
    wanted: set[FailureKindValue] = {"timeout", "out-of-memory"}
    assert_type(submitter.resubmit_failed(kinds=wanted), list[str])
    submitter.resubmit_failed(kinds={"timeuot"})  # type: ignore[arg-type]
    submitter.resubmit_failed(kinds={"dependency-failed"})  # type: ignore[arg-type]


def local_backend() -> None:
    with LocalBackend() as backend:
        assert_type(backend.clients.batch, BatchClient)
        submitter = backend.job_submitter("b", vcpus=2, polling_interval_seconds=0.5)
        assert_type(submitter, JobSubmitter)
        backend.job_submitter("b", vcpus="2")  # type: ignore[arg-type]
        backend.job_submitter("b", clients=backend.clients)  # type: ignore[call-arg]


def attach_is_typed(session: boto3.Session) -> None:
    submitter = JobSubmitter.attach("b_1", job_queue="q", job_bucket="b", session=session)
    assert_type(submitter, JobSubmitter)
    assert_type(session.client("batch"), BatchClient)
