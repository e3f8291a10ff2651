"""The CloudFormation template: lint-clean, closed to the internet, private and expiring data,
least-privilege roles, and the same submitter policy `pcr iam-policy` prints."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pcr_sdk.infra import STACK_OUTPUTS, submitter_policy, template_text
from tests.infra._cfn import conditions, load_template, resolve_ifs, walk
from tests.support.cli import invoke

REGIONS = ["us-east-1", "eu-central-1", "ap-southeast-2"]
WORLD_OPEN = {"0.0.0.0/0", "::/0"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def resources(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == type_}


def resolved(template: dict[str, Any], **parameters: str) -> dict[str, Any]:
    """The resources with every condition decided for `parameters` (defaults otherwise)."""
    truth = conditions(template, parameters)
    kept = {
        name: resource
        for name, resource in template["Resources"].items()
        if truth.get(resource.get("Condition", ""), True)
    }
    result = resolve_ifs(kept, truth)
    assert isinstance(result, dict)
    return result


@pytest.mark.slow
def test_cfn_lint_finds_nothing() -> None:
    api = pytest.importorskip(
        "cfnlint.api", reason="cfn-lint is not installed (pip install -e '.[dev]')"
    )
    matches = api.lint(template_text(), config=api.ManualArgs(regions=REGIONS))
    assert [str(m) for m in matches] == []


@pytest.mark.slow
def test_cfn_lint_would_catch_a_broken_template() -> None:
    api = pytest.importorskip(
        "cfnlint.api", reason="cfn-lint is not installed (pip install -e '.[dev]')"
    )
    broken = template_text().replace("SSEAlgorithm: AES256", "SSEAlgorithm: AES257")
    assert [m.rule.id for m in api.lint(broken, config=api.ManualArgs(regions=REGIONS))]


def test_no_inbound_access_from_anywhere(template: dict[str, Any]) -> None:
    assert not resources(template, "AWS::EC2::SecurityGroupIngress")
    for name, group in resources(template, "AWS::EC2::SecurityGroup").items():
        assert "SecurityGroupIngress" not in group["Properties"], name
    # the world-open CIDRs appear only as the egress rule and the default route
    places: list[str] = []

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            places.extend(k for k, v in node.items() if isinstance(v, str) and v in WORLD_OPEN)

    walk(template["Resources"], visit)
    assert sorted(places) == ["CidrIp", "DestinationCidrBlock"]
    (group,) = resources(template, "AWS::EC2::SecurityGroup").values()
    assert group["Properties"]["SecurityGroupEgress"][0]["CidrIp"] == "0.0.0.0/0"


def test_the_bucket_is_private_encrypted_tls_only_and_expires_job_data(
    template: dict[str, Any],
) -> None:
    bucket = template["Resources"]["JobBucket"]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    (rule,) = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["Prefix"] == "jobs/"
    assert rule["ExpirationInDays"] == {"Ref": "JobDataRetentionDays"}
    retention = template["Parameters"]["JobDataRetentionDays"]
    assert (retention["Default"], retention["MinValue"]) == (30, 1)

    def encryption(**parameters: str) -> Any:
        (entry,) = resolved(template, **parameters)["JobBucket"]["Properties"]["BucketEncryption"][
            "ServerSideEncryptionConfiguration"
        ]
        return entry

    assert encryption() == {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    key = "arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert encryption(KmsKeyArn=key) == {
        "ServerSideEncryptionByDefault": {
            "SSEAlgorithm": "aws:kms",
            "KMSMasterKeyID": {"Ref": "KmsKeyArn"},
        },
        "BucketKeyEnabled": True,
    }

    (statement,) = template["Resources"]["JobBucketPolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == "*"
    assert statement["Action"] == "s3:*"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statement["Resource"] == [
        {"Fn::GetAtt": ["JobBucket", "Arn"]},
        {"Fn::Sub": "${JobBucket.Arn}/*"},
    ]


def test_compute_is_cpu_ec2_by_default_and_parameters_switch_it(template: dict[str, Any]) -> None:
    def compute(**parameters: str) -> dict[str, Any]:
        environment = resolved(template, **parameters)["ComputeEnvironment"]["Properties"]
        assert environment["Type"] == "MANAGED"
        resources_ = environment["ComputeResources"]
        assert isinstance(resources_, dict)
        return resources_

    default = compute()
    assert default["Type"] == {"Ref": "ProvisioningModel"}
    assert template["Parameters"]["ProvisioningModel"]["Default"] == "EC2"
    assert default["Ec2Configuration"] == [{"ImageType": "ECS_AL2023"}]
    assert default["InstanceTypes"] == {"Ref": "InstanceTypes"}
    assert template["Parameters"]["InstanceTypes"]["Default"] == "optimal"
    assert default["AllocationStrategy"] == "BEST_FIT_PROGRESSIVE"
    assert default["MinvCpus"] == {"Ref": "MinVcpus"}
    assert template["Parameters"]["MinVcpus"]["Default"] == 0

    assert compute(UseGpu="true")["Ec2Configuration"] == [{"ImageType": "ECS_AL2_NVIDIA"}]
    assert compute(ProvisioningModel="SPOT")["AllocationStrategy"] == (
        "SPOT_PRICE_CAPACITY_OPTIMIZED"
    )
    fargate = compute(ProvisioningModel="FARGATE")
    assert set(fargate) == {"Type", "MaxvCpus", "Subnets", "SecurityGroupIds"}
    fargate_resources = resolved(template, ProvisioningModel="FARGATE")
    assert "ExecutionRole" in fargate_resources
    assert "EcsInstanceRole" not in fargate_resources
    assert "ExecutionRole" not in resolved(template)
    # Fargate has no GPUs: a rule refuses the combination before anything is created
    (assertion,) = template["Rules"]["NoGpuOnFargate"]["Assertions"]
    assert assertion["Assert"] == {"Fn::Equals": [{"Ref": "UseGpu"}, "false"]}


def test_two_public_subnets_in_two_zones(template: dict[str, Any]) -> None:
    subnets = resources(template, "AWS::EC2::Subnet")
    assert len(subnets) == 2
    zones = [s["Properties"]["AvailabilityZone"]["Fn::Select"][0] for s in subnets.values()]
    assert sorted(zones) == [0, 1]
    assert template["Resources"]["DefaultRoute"]["Properties"]["GatewayId"] == {
        "Ref": "InternetGateway"
    }


def _policies(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for name, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        if "PolicyDocument" in properties:
            found.append((name, properties["PolicyDocument"]))
        policies = properties.get("Policies")
        if isinstance(policies, list):
            found.extend((name, p["PolicyDocument"]) for p in policies)
    return found


def test_roles_are_least_privilege(template: dict[str, Any]) -> None:
    everything = resolved(template, KmsKeyArn="arn:aws:kms:eu-central-1:1:key/k")
    for name, document in _policies({"Resources": everything}):
        for statement in document["Statement"]:
            actions = statement["Action"]
            actions = [actions] if isinstance(actions, str) else actions
            assert all(a != "*" and not a.endswith(":*") for a in actions) or (
                statement["Effect"] == "Deny"
            ), name
    (job_data,) = everything["JobRole"]["Properties"]["Policies"]
    statements = job_data["PolicyDocument"]["Statement"]
    assert statements[0]["Action"] == ["s3:GetObject", "s3:PutObject"]
    assert statements[0]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:s3:::${JobBucket}/jobs/*"
    }
    assert statements[1]["Resource"] == {"Ref": "KmsKeyArn"}
    trust = everything["JobRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    managed = template["Resources"]["BatchServiceRole"]["Properties"]["ManagedPolicyArns"]
    assert managed == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSBatchServiceRole"}
    ]
    # without a job role, jobs use the instance role: only when asked for, and only jobs/*
    assert (
        "Policies"
        not in resolved(template, InstanceRoleDataAccess="false")["EcsInstanceRole"]["Properties"]
    )
    group = template["Resources"]["SubmittersGroup"]["Properties"]
    assert group["ManagedPolicyArns"] == [{"Ref": "SubmitterPolicy"}]


@pytest.mark.parametrize(("kms", "fargate"), [(False, False), (True, False), (False, True)])
def test_the_stack_policy_is_the_policy_pcr_iam_policy_prints(
    template: dict[str, Any], kms: bool, fargate: bool
) -> None:
    key = "arn:aws:kms:eu-central-1:123456789012:key/k" if kms else ""
    model = "FARGATE" if fargate else "EC2"
    resources = resolved(template, KmsKeyArn=key, ProvisioningModel=model)
    document = resources["SubmitterPolicy"]["Properties"]["PolicyDocument"]

    def unsub(node: Any) -> Any:
        """The template's ${...} strings, as submitter_policy's placeholders render them."""
        if isinstance(node, dict) and set(node) == {"Fn::Sub"}:
            return node["Fn::Sub"]
        if isinstance(node, dict):
            return {k: unsub(v) for k, v in node.items()}
        if isinstance(node, list):
            return [unsub(v) for v in node]
        return node

    expected = submitter_policy(
        "${JobBucket}",
        "arn:the-queue",  # an ARN is used as given; the template's ${JobQueue} is the ARN
        region="${AWS::Region}",
        account="${AWS::AccountId}",
        partition="${AWS::Partition}",
        job_role_arn="${JobRole.Arn}",
        execution_role_arn="${ExecutionRole.Arn}" if fargate else None,
        kms_key_arn="${KmsKeyArn}" if kms else None,
    )
    text = json.dumps(expected).replace('"arn:the-queue"', '"${JobQueue}"')
    assert unsub(document) == json.loads(text)


def test_outputs(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    assert set(STACK_OUTPUTS) <= set(outputs)
    assert outputs["JobQueue"]["Value"] == {"Ref": "JobQueue"}
    assert outputs["JobBucket"]["Value"] == {"Ref": "JobBucket"}
    assert outputs["Repository"]["Value"] == {"Fn::GetAtt": ["Repository", "RepositoryUri"]}
    repository = template["Resources"]["Repository"]["Properties"]
    assert repository["ImageScanningConfiguration"] == {"ScanOnPush": True}


def test_pcr_infra_template_prints_it() -> None:
    result = invoke(["infra", "template"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == template_text()
    assert load_template(result.stdout)["Outputs"].keys() >= set(STACK_OUTPUTS)
    assert "template" in invoke(["infra", "--help"]).stdout
