"""Never executed: mypy checks that the public API has the types users rely on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from mypy_boto3_batch import BatchClient
from mypy_boto3_s3 import S3Client
from pydantic import BaseModel
from typing_extensions import assert_type

from pcr_sdk import (
    AwsClients,
    BatchId,
    BatchName,
    FailureKind,
    InvalidBatchNameError,
    JobResult,
    JobStatus,
    JobSubmitter,
    PcrError,
    PollProgress,
    RateGovernor,
    RetryPolicy,
    RetryRule,
)
from pcr_sdk.advanced import JobSpec
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
