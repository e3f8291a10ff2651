"""The user policy covers the calls pcr-sdk really makes, and nothing beyond them.

A whole lifecycle (library and CLI) runs on a MotoWorld while every API call made through
`world.clients` is recorded; each call becomes the IAM requests AWS would authorize (see
_iam.py) and the generated policy must allow every one of them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pcr_sdk.infra import SDK_OPERATIONS, submitter_actions, submitter_policy
from pcr_sdk.infra._policy import iam_action
from pcr_sdk.testing import MotoWorld
from tests.infra._iam import CallRecorder, Request, allowed, denied
from tests.infra._lifecycle import run_batch, run_everything, sum_product

pytestmark = pytest.mark.integration  # every test here runs on a MotoWorld

ACCOUNT = "123456789012"  # moto's default account


@pytest.fixture(autouse=True)
def _scripted_jobs(request: pytest.FixtureRequest) -> None:
    """A test's `moto_world` runs the sum_product worker; job 1 of an `iam-check` batch fails,
    the jobs of `iam-slow` and `iam-cancel` batches stay unfinished for 50 polls."""
    if "moto_world" not in request.fixturenames:
        return
    world: MotoWorld = request.getfixturevalue("moto_world")
    world.script.worker(sum_product)
    world.script.fail_where(
        lambda job: job.job_name.startswith("iam-check_") and job.index == 1,
        exit_code=3,
        log_lines=["ValueError: boom"],
    )
    world.script.polls_where(
        lambda job: job.job_name.startswith(("iam-slow_", "iam-cancel_")), n=50
    )


def _recorder(world: MotoWorld) -> CallRecorder:
    return CallRecorder(
        world.clients, lookup=world.session.client("batch"), region=world.region, account=ACCOUNT
    )


def test_every_call_of_a_whole_lifecycle_is_allowed(moto_world: MotoWorld, tmp_path: Path) -> None:
    recorder = _recorder(moto_world)
    run_everything(moto_world, tmp_path, queue=moto_world.queue, bucket=moto_world.bucket)
    policy = submitter_policy(
        moto_world.bucket, moto_world.queue, region=moto_world.region, account=ACCOUNT
    )

    made = {(call.service, call.operation) for call in recorder.calls}
    known = {(service, op) for service, ops in SDK_OPERATIONS.items() for op in ops}
    assert made <= known, "the SDK made calls SDK_OPERATIONS does not list"
    assert made == known, "the lifecycle should exercise every operation the SDK has"
    assert recorder.actions <= submitter_actions()
    assert denied(policy, recorder.calls) == []
    elsewhere = submitter_policy("other-bucket", "other-queue", region=moto_world.region)
    refused = " ".join(denied(elsewhere, recorder.calls))
    assert "SubmitJob" in refused
    assert "PutObject" in refused
    # tag-on-create and the tag conditions were really exercised, not vacuously true
    requests = [r for call in recorder.calls for r in call.requests]
    assert any(r.action == "batch:TagResource" for r in requests)
    assert any("aws:ResourceTag/pcr:managed-by" in r.context for r in requests)
    assert any("aws:ResourceTag/pcr:batch-id" in r.context for r in requests)


def test_the_policy_grants_no_action_the_sdk_does_not_call() -> None:
    policy = submitter_policy("bucket-1", "queue-1")
    granted = {action for s in policy["Statement"] for action in s["Action"]}
    called = {iam_action(svc, op) for svc, ops in SDK_OPERATIONS.items() for op in ops}
    assert granted == submitter_actions()
    assert granted - called == {"batch:TagResource"}  # needed by SubmitJob / Register with tags


def test_a_job_role_needs_pass_role_and_only_on_that_role(moto_world: MotoWorld) -> None:
    role = moto_world.role_arn
    recorder = _recorder(moto_world)
    assert run_batch(
        moto_world, queue=moto_world.queue, bucket=moto_world.bucket, job_role_arn=role
    ) == [
        {"x+y": 5, "x*y": 6},
        {"x+y": 14, "x*y": 40},
        {"x+y": 6, "x*y": -7},
    ]
    without = submitter_policy(
        moto_world.bucket, moto_world.queue, region=moto_world.region, account=ACCOUNT
    )
    with_role = submitter_policy(
        moto_world.bucket,
        moto_world.queue,
        region=moto_world.region,
        account=ACCOUNT,
        job_role_arn=role,
    )
    assert denied(without, recorder.calls) == [
        f"RegisterJobDefinition: {Request('iam:PassRole', role)}"
    ]
    assert denied(with_role, recorder.calls) == []
    assert not allowed(with_role, Request("iam:PassRole", role + "-other"))


@pytest.mark.parametrize(
    ("request_", "why"),
    [
        (
            Request("batch:SubmitJob", "arn:aws:batch:eu-central-1:123456789012:job-queue/other"),
            "another queue",
        ),
        (
            Request("batch:SubmitJob", "arn:aws:batch:us-east-1:123456789012:job-queue/q"),
            "the queue's name in another region",
        ),
        (Request("s3:PutObject", "arn:aws:s3:::b-1/elsewhere/x.json"), "outside jobs/"),
        (Request("s3:GetObject", "arn:aws:s3:::other-bucket/jobs/x"), "another bucket"),
        (Request("s3:ListBucket", "arn:aws:s3:::b-1", {"s3:prefix": ""}), "the whole bucket"),
        (Request("s3:DeleteObject", "arn:aws:s3:::b-1/elsewhere/x"), "a delete outside jobs/"),
        (Request("s3:DeleteBucket", "arn:aws:s3:::b-1"), "an action the SDK never calls"),
        (
            Request(
                "batch:DeregisterJobDefinition",
                "arn:aws:batch:eu-central-1:123456789012:job-definition/theirs:1",
            ),
            "a job definition that is not pcr-sdk's",
        ),
        (
            Request(
                "batch:RegisterJobDefinition",
                "arn:aws:batch:eu-central-1:123456789012:job-definition/x",
            ),
            "a job definition registered without pcr-sdk's tag",
        ),
        (
            Request("batch:TerminateJob", "arn:aws:batch:eu-central-1:123456789012:job/abc"),
            "a job pcr-sdk did not submit",
        ),
        (
            Request(
                "logs:GetLogEvents",
                "arn:aws:logs:eu-central-1:123456789012:log-group:/aws/lambda/f:log-stream:s",
            ),
            "another log group",
        ),
        (Request("batch:CancelJob", "arn:aws:batch:eu-central-1:123456789012:job/abc"), "unused"),
    ],
)
def test_what_the_policy_denies(request_: Request, why: str) -> None:
    policy = submitter_policy("b-1", "q", region="eu-central-1", account=ACCOUNT)
    assert not allowed(policy, request_), why
