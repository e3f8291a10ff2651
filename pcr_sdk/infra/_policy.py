"""The least-privilege IAM policy of a user who submits batches with pcr-sdk.

`SDK_OPERATIONS` lists every AWS API operation pcr-sdk's library and CLI call with the
submitting user's credentials (tests check it against the code and against a recorded run);
`submitter_policy` grants exactly the IAM actions those operations need, each on the narrowest
resources IAM lets a policy name:

- batch:SubmitJob on the one job queue and on job definitions; Register/DeregisterJobDefinition
  on job definitions tagged ``pcr:managed-by=pcr-sdk`` (the tag the SDK registers them with);
  TerminateJob on jobs tagged ``pcr:batch-id``; batch:TagResource on jobs and job definitions,
  because SubmitJob and RegisterJobDefinition send tags ("tag on create" needs it).
- s3:GetObject and s3:PutObject on ``<bucket>/jobs/*`` (and s3:AbortMultipartUpload, for a
  failed upload in parts); s3:DeleteObject there too (
  `pcr cleanup --data BATCH_ID` deletes a batch's data, which the user could overwrite anyway;
  a rerun removes a failed job's stale output.json); s3:ListBucket on the bucket only for
  prefixes under ``jobs/`` (condition ``s3:prefix``).
- logs:GetLogEvents on the log group AWS Batch writes to, ``/aws/batch/job``.
- iam:PassRole on the job role (and Fargate execution role), only when given;
  kms:GenerateDataKey and kms:Decrypt on
  the bucket's KMS key, only when one is given.

Why some actions have ``"Resource": "*"``: batch:DescribeJobs, batch:ListJobs,
batch:DescribeJobDefinitions and batch:DescribeJobQueues have an empty "Resource types" column
in the Service Authorization Reference ("Actions, resources, and condition keys for AWS
Batch"), which says: "If there is no value for this column, you must specify all resources
("*") to which the policy applies in the Resource element of your policy statement."
`WILDCARD_ONLY_ACTIONS` lists them; no other action is granted on "*". These four only read.

The condition keys (aws:RequestTag, aws:ResourceTag, s3:prefix) follow that reference too;
moto does not evaluate IAM, so the tests evaluate the policy themselves (see tests/infra).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final, Literal, TypedDict

from pcr_sdk._private.errors import PcrInputError
from pcr_sdk._private.public import public
from pcr_sdk._private.services.logs import BATCH_LOG_GROUP
from pcr_sdk._private.wire.facts import MANAGED_BY_VALUE, TAG_BATCH_ID, TAG_MANAGED_BY
from pcr_sdk._private.wire.layout import JOBS_ROOT

SDK_OPERATIONS: Final[Mapping[str, frozenset[str]]] = {
    "batch": frozenset(
        {
            "RegisterJobDefinition",  # JobSubmitter(): one definition per batch
            "DeregisterJobDefinition",  # when the batch ends; pcr cleanup
            "DescribeJobDefinitions",  # JobSubmitter.attach; pcr cleanup
            "SubmitJob",  # submit_job / submit_jobs
            "DescribeJobs",  # the poller; attach; pcr status / logs / stop-runnable
            "ListJobs",  # failed array children; attach; pcr cleanup / stop-runnable
            "TerminateJob",  # cancel; pcr cancel / stop-runnable
            "DescribeJobQueues",  # pcr cleanup: which definitions are still in use
        }
    ),
    "s3": frozenset(
        {
            "PutObject",  # config.json, packed array inputs, resources; the manifest, the lease
            "CreateMultipartUpload",  # packed array inputs over 16 MiB, in parts
            "UploadPart",
            "CompleteMultipartUpload",
            "AbortMultipartUpload",  # a failed upload in parts
            "GetObject",  # output.json, resources
            "ListObjectsV2",  # pcr status --bucket: outputs written so far; pcr cleanup --data
            "DeleteObjects",  # pcr cleanup --data; resubmit_failed: a failed job's stale output
        }
    ),
    "logs": frozenset({"GetLogEvents"}),  # JobSubmitter.logs; pcr logs
}
"""Every AWS operation (botocore's name) pcr-sdk calls with the submitting user's credentials."""

ACTION_OF_OPERATION: Final[Mapping[tuple[str, str], str]] = {
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "DeleteObjects"): "s3:DeleteObject",
    ("s3", "CreateMultipartUpload"): "s3:PutObject",
    ("s3", "UploadPart"): "s3:PutObject",
    ("s3", "CompleteMultipartUpload"): "s3:PutObject",
}
"""Operations whose IAM action is not named after them (the rest are `<service>:<Operation>`)."""

TAG_ON_CREATE_ACTION: Final = "batch:TagResource"
"""SubmitJob and RegisterJobDefinition send tags, which IAM authorizes as TagResource too."""

WILDCARD_ONLY_ACTIONS: Final = frozenset(
    {
        "batch:DescribeJobs",
        "batch:ListJobs",
        "batch:DescribeJobDefinitions",
        "batch:DescribeJobQueues",
    }
)
"""Actions without resource-level permissions: IAM requires ``"Resource": "*"`` for them."""

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PLACEHOLDER = re.compile(r"^\$\{[A-Za-z0-9:.]+\}$")  # CloudFormation ${Name}, for the template


class _StatementBase(TypedDict):
    Sid: str
    Effect: Literal["Allow"]
    Action: list[str]
    Resource: list[str]


@public("pcr_sdk.infra")
class Statement(_StatementBase, total=False):
    """One IAM policy statement."""

    Condition: dict[str, dict[str, str | list[str]]]


@public("pcr_sdk.infra")
class PolicyDocument(TypedDict):
    """An IAM policy document."""

    Version: Literal["2012-10-17"]
    Statement: list[Statement]


def iam_action(service: str, operation: str) -> str:
    """The IAM action that authorizes `operation` of `service` (botocore's names).

    Args:
        service: botocore's service name, e.g. `"batch"`.
        operation: botocore's operation name, e.g. `"SubmitJob"`.

    Returns:
        The action, e.g. `"batch:SubmitJob"`; `"s3:ListBucket"` for ListObjectsV2.
    """
    return ACTION_OF_OPERATION.get((service, operation), f"{service}:{operation}")


@public("pcr_sdk.infra")
def submitter_actions() -> frozenset[str]:
    """The IAM actions `submitter_policy` grants without a job role or KMS key.

    Returns:
        The actions, e.g. `"batch:SubmitJob"`.
    """
    called = {iam_action(s, op) for s, ops in SDK_OPERATIONS.items() for op in ops}
    return frozenset({*called, TAG_ON_CREATE_ACTION})


def partition_of(region: str) -> str:
    """The AWS partition of `region` ("aws" for "*" and every commercial region).

    Args:
        region: an AWS region, or `"*"`.

    Returns:
        `"aws-cn"` for `cn-*`, `"aws-us-gov"` for `us-gov-*`, else `"aws"`.
    """
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


@public("pcr_sdk.infra")
def submitter_policy(
    bucket: str,
    queue: str,
    *,
    region: str = "*",
    account: str = "*",
    partition: str | None = None,
    job_role_arn: str | None = None,
    execution_role_arn: str | None = None,
    kms_key_arn: str | None = None,
) -> PolicyDocument:
    """The least-privilege policy of a user who runs pcr-sdk batches on `queue` and `bucket`.

    `queue` is a job queue name or ARN. `region` and `account` narrow every ARN (default "*":
    any). Give `job_role_arn` if jobs run with a job role and `execution_role_arn` for Fargate
    jobs (the user passes both to AWS Batch), and `kms_key_arn` if the bucket encrypts with a
    customer managed KMS key.

    Args:
        bucket: the job bucket's name (or a CloudFormation `${Name}` placeholder).
        queue: the job queue's name or ARN.
        region: the region of every ARN (default `"*"`: any).
        account: the 12-digit account of every ARN (default `"*"`: any).
        partition: the ARNs' partition (default: `partition_of(region)`).
        job_role_arn: the jobs' job role, which the user may pass to AWS Batch.
        execution_role_arn: the Fargate jobs' execution role, which the user may pass too.
        kms_key_arn: the bucket's customer managed KMS key (decrypt and generate data keys).

    Returns:
        The policy document, ready for `json.dumps`.

    Raises:
        PcrInputError: `bucket`, `queue`, `region` or `account` is malformed.
    """
    _check(bucket, queue, region, account)
    part = partition or partition_of(region)
    batch = f"arn:{part}:batch:{region}:{account}"
    queue_arn = queue if queue.startswith("arn:") else f"{batch}:job-queue/{queue}"
    definitions = f"{batch}:job-definition/*"
    jobs = f"{batch}:job/*"
    statements: list[Statement] = [
        {
            "Sid": "SubmitToTheQueue",
            "Effect": "Allow",
            "Action": ["batch:SubmitJob"],
            "Resource": [queue_arn, definitions],
        },
        {
            "Sid": "RegisterPcrJobDefinitions",
            "Effect": "Allow",
            "Action": ["batch:RegisterJobDefinition"],
            "Resource": [definitions],
            "Condition": {"StringEquals": {f"aws:RequestTag/{TAG_MANAGED_BY}": MANAGED_BY_VALUE}},
        },
        {
            "Sid": "DeregisterPcrJobDefinitions",
            "Effect": "Allow",
            "Action": ["batch:DeregisterJobDefinition"],
            "Resource": [definitions],
            "Condition": {"StringEquals": {f"aws:ResourceTag/{TAG_MANAGED_BY}": MANAGED_BY_VALUE}},
        },
        {
            "Sid": "TagOnCreate",
            "Effect": "Allow",
            "Action": [TAG_ON_CREATE_ACTION],
            "Resource": [definitions, jobs],
        },
        {
            "Sid": "TerminatePcrJobs",
            "Effect": "Allow",
            "Action": ["batch:TerminateJob"],
            "Resource": [jobs],
            "Condition": {"Null": {f"aws:ResourceTag/{TAG_BATCH_ID}": "false"}},
        },
        {
            "Sid": "ReadBatchStateNoResourceLevelPermissions",
            "Effect": "Allow",
            "Action": sorted(WILDCARD_ONLY_ACTIONS),
            "Resource": ["*"],
        },
        {
            "Sid": "ReadWriteJobData",
            "Effect": "Allow",
            "Action": ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
            "Resource": [f"arn:{part}:s3:::{bucket}/{JOBS_ROOT}/*"],
        },
        {
            "Sid": "DeleteJobData",
            "Effect": "Allow",
            "Action": ["s3:DeleteObject"],
            "Resource": [f"arn:{part}:s3:::{bucket}/{JOBS_ROOT}/*"],
        },
        {
            "Sid": "ListJobData",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [f"arn:{part}:s3:::{bucket}"],
            "Condition": {"StringLike": {"s3:prefix": [f"{JOBS_ROOT}/*"]}},
        },
        {
            "Sid": "ReadJobLogs",
            "Effect": "Allow",
            "Action": ["logs:GetLogEvents"],
            "Resource": [f"arn:{part}:logs:{region}:{account}:log-group:{BATCH_LOG_GROUP}:*"],
        },
    ]
    roles = [arn for arn in (job_role_arn, execution_role_arn) if arn]
    if roles:
        statements.append(
            {
                "Sid": "PassTheJobRole",
                "Effect": "Allow",
                "Action": ["iam:PassRole"],
                "Resource": roles,
            }
        )
    if kms_key_arn:
        statements.append(
            {
                "Sid": "UseTheBucketKey",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": [kms_key_arn],
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def _check(bucket: str, queue: str, region: str, account: str) -> None:
    if not (_BUCKET_NAME.match(bucket) or _PLACEHOLDER.match(bucket)):
        raise PcrInputError(f"not an S3 bucket name: {bucket!r}")
    if not queue or "*" in queue or any(c.isspace() for c in queue):
        raise PcrInputError(f"not a job queue name or ARN: {queue!r}")
    if region != "*" and not re.match(r"^([a-z]{2}(-[a-z]+)+-\d|\$\{AWS::Region\})$", region):
        raise PcrInputError(f"not an AWS region: {region!r}")
    if account != "*" and not re.match(r"^(\d{12}|\$\{AWS::AccountId\})$", account):
        raise PcrInputError(f"not a 12-digit AWS account id: {account!r}")
