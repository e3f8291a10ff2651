"""The stack deploys into moto's CloudFormation and its outputs run a whole JobSubmitter batch.

The stack is created inside a `MotoWorld`: its compute environment and job queue live in moto,
and the world's Batch takes jobs for every queue moto knows, so the stack's own queue (a
MANAGED compute environment in the stack's VPC) and bucket carry the batch.

What moto 5.2.1 cannot do, and how the deployed variant works around it (`moto_variant`):

- AWS::S3::BucketPolicy and AWS::IAM::Group are not modelled by moto's CloudFormation
  (moto/cloudformation/parsing.py warns "No Moto CloudFormation support for ..." and skips
  them; with filterwarnings=error that fails the test). The variant drops exactly those two
  resources (JobBucketPolicy, SubmittersGroup) and the output naming the group; nothing else
  refers to them. Their content is checked statically in test_template.py.
- `!Ref AWS::NoValue` as a list element stays a null in moto (clean_json removes it only as a
  property value), which moto's IAM validator rejects ("MalformedPolicyDocument"). The variant
  decides every Fn::If for the deployed parameters, as CloudFormation does.
- moto names an unnamed ECR repository "<stack>-Repository-<SUFFIX>", with capitals its own ECR
  name check refuses; the variant names it. AWS generates lowercase names.
- A CommaDelimitedList parameter's Default is not split into a list by moto (only passed
  values are: ResourceMap.load_parameters), so "optimal" would be iterated letter by letter;
  the test passes InstanceTypes explicitly.
- moto's CloudFormation S3 bucket applies only BucketEncryption and Tags
  (FakeBucket.create_from_cloudformation_json): the public access block, ownership controls and
  lifecycle rule are accepted and ignored, so they are checked on the template only.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from pcr_sdk.infra import STACK_OUTPUTS
from pcr_sdk.testing import MotoWorld
from tests.infra._cfn import load_template, moto_unsupported_types, moto_variant
from tests.infra._iam import CallRecorder, denied
from tests.infra._lifecycle import run_batch, sum_product

pytestmark = pytest.mark.integration  # every test here runs on a MotoWorld

ACCOUNT = "123456789012"
KEY = "arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
EXPECTED = [{"x+y": 5, "x*y": 6}, {"x+y": 14, "x*y": 40}, {"x+y": 6, "x*y": -7}]


def _deploy(world: MotoWorld, parameters: dict[str, str]) -> dict[str, str]:
    """Create the stack's moto variant for `parameters`; return its outputs."""
    variant, dropped = moto_variant(load_template(), parameters)
    assert dropped == ["JobBucketPolicy", "SubmittersGroup"]
    cfn: Any = world.session.client("cloudformation")  # no mypy_boto3_cloudformation installed
    given = [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()]
    cfn.create_stack(
        StackName="pcr",
        TemplateBody=json.dumps(variant),
        Parameters=given,
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    (stack,) = cfn.describe_stacks(StackName="pcr")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def test_moto_lacks_exactly_the_documented_resource_types() -> None:
    """If moto learns these types, drop the workaround (and this test tells)."""
    assert moto_unsupported_types(load_template()) == {"AWS::S3::BucketPolicy", "AWS::IAM::Group"}


@pytest.mark.slow
def test_the_stack_runs_a_whole_batch_with_its_own_policy(moto_world: MotoWorld) -> None:
    moto_world.script.worker(sum_product)
    outputs = _deploy(moto_world, {"InstanceTypes": "optimal"})
    assert set(STACK_OUTPUTS) - {"SubmittersGroup"} <= set(outputs)
    queue, bucket, role = outputs["JobQueue"], outputs["JobBucket"], outputs["JobRoleArn"]
    assert queue.startswith(f"arn:aws:batch:{moto_world.region}:{ACCOUNT}:job-queue/")
    assert queue != moto_world.queue_arn  # not the world's own queue and bucket
    assert bucket != moto_world.bucket

    recorder = CallRecorder(
        moto_world.clients,
        lookup=moto_world.session.client("batch"),
        region=moto_world.region,
        account=ACCOUNT,
    )
    assert run_batch(moto_world, queue=queue, bucket=bucket, job_role_arn=role) == EXPECTED
    assert {call.job_queue for call in moto_world.submitted()} == {queue}

    # the policy the stack created (as moto stored it, every ARN resolved) allows it all
    iam = moto_world.session.client("iam")
    arn = outputs["SubmitterPolicyArn"]
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    document: Any = iam.get_policy_version(PolicyArn=arn, VersionId=version)
    policy = document["PolicyVersion"]["Document"]
    assert denied(policy, recorder.calls) == []
    assert any(call.operation == "RegisterJobDefinition" for call in recorder.calls)

    # the live network: the queue's compute environment sits behind a closed group
    batch = moto_world.session.client("batch")
    (found,) = batch.describe_job_queues(jobQueues=[queue])["jobQueues"]
    environment_arn = found["computeEnvironmentOrder"][0]["computeEnvironment"]
    (environment,) = batch.describe_compute_environments(computeEnvironments=[environment_arn])[
        "computeEnvironments"
    ]
    assert environment["type"] == "MANAGED"
    resources = environment["computeResources"]
    ec2 = moto_world.session.client("ec2")
    groups = ec2.describe_security_groups(GroupIds=resources["securityGroupIds"])
    assert [g["IpPermissions"] for g in groups["SecurityGroups"]] == [[]]
    subnets = ec2.describe_subnets(SubnetIds=resources["subnets"])["Subnets"]
    assert len({s["AvailabilityZone"] for s in subnets}) == 2

    s3 = moto_world.session.client("s3")
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert rules["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        (
            {"InstanceTypes": "optimal"},
            {"type": "EC2", "allocationStrategy": "BEST_FIT_PROGRESSIVE", "image": "ECS_AL2023"},
        ),
        (
            {"ProvisioningModel": "SPOT", "UseGpu": "true", "InstanceTypes": "g4dn.xlarge"},
            {
                "type": "SPOT",
                "allocationStrategy": "SPOT_PRICE_CAPACITY_OPTIMIZED",
                "image": "ECS_AL2_NVIDIA",
            },
        ),
        ({"ProvisioningModel": "FARGATE", "KmsKeyArn": KEY}, {"type": "FARGATE"}),
    ],
    ids=["cpu-ec2", "gpu-spot", "fargate-kms"],
)
def test_parameters_shape_the_compute_environment(
    moto_world: MotoWorld, parameters: dict[str, str], expected: dict[str, str]
) -> None:
    outputs = _deploy(moto_world, parameters)
    batch = moto_world.session.client("batch")
    (environment,) = batch.describe_compute_environments(
        computeEnvironments=[outputs["ComputeEnvironment"]]
    )["computeEnvironments"]
    resources = environment["computeResources"]
    images = [c.get("imageType") for c in resources.get("ec2Configuration", [])]
    shown = {
        "type": resources["type"],
        "allocationStrategy": resources.get("allocationStrategy"),
        "image": images[0] if images else None,
    }
    assert {k: v for k, v in shown.items() if v is not None} == expected
    assert ("ExecutionRoleArn" in outputs) == (parameters.get("ProvisioningModel") == "FARGATE")
    encryption = moto_world.session.client("s3").get_bucket_encryption(Bucket=outputs["JobBucket"])
    default = encryption["ServerSideEncryptionConfiguration"]["Rules"][0]
    algorithm = default["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
    assert algorithm == ("aws:kms" if "KmsKeyArn" in parameters else "AES256")
