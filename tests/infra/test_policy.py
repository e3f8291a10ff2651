"""`submitter_policy` and `pcr iam-policy`: scoped resources, valid input, the CLI's output."""

from __future__ import annotations

import json

import pytest

import pcr_sdk.infra
from pcr_sdk import PcrInputError
from pcr_sdk.infra import submitter_actions, submitter_policy
from pcr_sdk.infra._policy import WILDCARD_ONLY_ACTIONS
from tests.support.cli import assert_clean_exit, invoke

ROLE = "arn:aws:iam::123456789012:role/pcr-job"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.mark.parametrize(
    "options",
    [
        {},
        {
            "region": "eu-west-1",
            "account": "123456789012",
            "job_role_arn": ROLE,
            "kms_key_arn": KEY,
        },
    ],
    ids=["any-region-and-account", "everything-given"],
)
def test_no_wildcard_resource_for_actions_with_resource_level_permissions(
    options: dict[str, str],
) -> None:
    """Only the four Batch read actions IAM cannot scope get "*" (see pcr_sdk/infra/_policy.py)."""
    policy = submitter_policy("my-bucket", "my-queue", **options)
    for statement in policy["Statement"]:
        if "*" in statement["Resource"]:
            assert statement["Resource"] == ["*"]
            assert set(statement["Action"]) <= WILDCARD_ONLY_ACTIONS, statement["Sid"]
        for action in statement["Action"]:
            assert "*" not in action
    wildcard = {a for s in policy["Statement"] if s["Resource"] == ["*"] for a in s["Action"]}
    assert wildcard == WILDCARD_ONLY_ACTIONS


def test_region_and_account_narrow_every_arn() -> None:
    policy = submitter_policy("my-bucket", "my-queue", region="eu-west-1", account="123456789012")
    for statement in policy["Statement"]:
        for arn in statement["Resource"]:
            if arn.startswith(("arn:aws:batch:", "arn:aws:logs:")):
                assert arn.split(":")[3:5] == ["eu-west-1", "123456789012"], arn
    resources = {r for s in policy["Statement"] for r in s["Resource"]}
    assert "arn:aws:batch:eu-west-1:123456789012:job-queue/my-queue" in resources
    assert "arn:aws:s3:::my-bucket/jobs/*" in resources
    assert "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/batch/job:*" in resources


def test_a_queue_arn_is_used_as_given_and_partitions_follow_the_region() -> None:
    arn = "arn:aws-cn:batch:cn-north-1:123456789012:job-queue/q"
    policy = submitter_policy("my-bucket", arn, region="cn-north-1")
    assert policy["Statement"][0]["Resource"][0] == arn
    assert all(
        r.startswith(("arn:aws-cn:", "*")) for s in policy["Statement"] for r in s["Resource"]
    )


def test_optional_grants_appear_only_when_asked_for() -> None:
    plain = submitter_policy("my-bucket", "q")
    actions = {a for s in plain["Statement"] for a in s["Action"]}
    assert actions == submitter_actions()
    assert not any(a.startswith(("iam:", "kms:")) for a in actions)
    full = submitter_policy("my-bucket", "q", job_role_arn=ROLE, kms_key_arn=KEY)
    extra = {s["Sid"]: s for s in full["Statement"]}
    assert extra["PassTheJobRole"]["Resource"] == [ROLE]
    assert extra["UseTheBucketKey"]["Resource"] == [KEY]


@pytest.mark.parametrize(
    ("bucket", "queue", "region", "account"),
    [
        ("", "q", "*", "*"),
        ("Not_A_Bucket", "q", "*", "*"),
        ("my-bucket", "", "*", "*"),
        ("my-bucket", "queue-*", "*", "*"),
        ("my-bucket", "q", "europe", "*"),
        ("my-bucket", "q", "*", "12345"),
    ],
)
def test_bad_input_is_refused(bucket: str, queue: str, region: str, account: str) -> None:
    with pytest.raises(PcrInputError):
        submitter_policy(bucket, queue, region=region, account=account)


def test_pcr_iam_policy_prints_the_policy() -> None:
    args = ["--bucket", "my-bucket", "--queue", "my-queue", "--region", "eu-west-1"]
    result = invoke(["iam-policy", *args, "--account", "123456789012", "--job-role-arn", ROLE])
    assert_clean_exit(result, 0)
    assert json.loads(result.stdout) == submitter_policy(
        "my-bucket", "my-queue", region="eu-west-1", account="123456789012", job_role_arn=ROLE
    )
    assert result.stderr == ""


def test_pcr_iam_policy_refuses_bad_input_with_a_usage_error() -> None:
    result = invoke(["iam-policy", "--bucket", "Bad_Bucket", "--queue", "q"])
    assert_clean_exit(result, 2)
    assert "not an S3 bucket name" in result.stderr
    assert result.stdout == ""


def test_help_explains_every_option() -> None:
    text = invoke(["iam-policy", "--help"]).stdout
    for option in (
        "--bucket",
        "--queue",
        "--region",
        "--account",
        "--job-role-arn",
        "--kms-key-arn",
    ):
        assert option in text


def test_public_surface() -> None:
    assert sorted(pcr_sdk.infra.__all__) == sorted(
        name for name in vars(pcr_sdk.infra) if not name.startswith("_") and name != "annotations"
    )
