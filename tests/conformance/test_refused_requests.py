"""Requests AWS refuses, refused alike: ClientException (Logs: InvalidParameterException).

Each test sends what a plain client may send (pcr-sdk's own client checks some of these before
sending; a plain boto3 client and the AWS CLI do not). Where AWS's answer to such a request is on
public record, the test checks its wording on every target; otherwise only the error code, and
the wording on pcr-sdk's engine (`docs/local-checks.md` lists every check and its source).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pcr_sdk._private.wire import facts
from tests.conformance import scripts
from tests.conformance.target import LOG_GROUP, Target

pytestmark = pytest.mark.conformance

ROLE = "arn:aws:iam::123456789012:role/pcr-conformance-execution"
"""An execution role ARN for Fargate definitions that are refused before it matters."""


def _refused(call: Callable[[], object], code: str = "ClientException") -> str:
    """Run `call`; it must fail with `code`. Its message."""
    with pytest.raises(ClientError) as err:
        call()
    error = err.value.response["Error"]
    assert error["Code"] == code, error
    return str(error["Message"])


def _register(target: Target, suffix: str, properties: dict[str, Any], **extra: Any) -> object:
    """RegisterJobDefinition with exactly these container properties (deregistered if taken)."""
    container: Any = {"image": target.image, **properties}  # on purpose beyond the stubs' types
    arn = target.batch.register_job_definition(
        jobDefinitionName=target.name(suffix),
        type="container",
        containerProperties=container,
        **extra,
    )["jobDefinitionArn"]
    target.definitions.append(arn)
    return arn


def test_a_submit_job_request_over_30_kib_is_refused(target: Target) -> None:
    """ "Maximum job payload size (for SubmitJob API operations): 30 KiB"; AWS answers "Job size
    must be less than 30 KiB, got 47 KiB".
    https://docs.aws.amazon.com/batch/latest/userguide/service_limits.html"""
    definition = target.definition("payload", target.script(scripts.ARGS))
    padding = "x" * (facts.MAX_SUBMIT_PAYLOAD_BYTES + 1024)

    message = _refused(lambda: target.submit(definition, parameters={"pad": padding}))

    assert "Job size must be less than 30 KiB, got " in message


def test_a_job_definition_over_24_kib_is_refused(target: Target) -> None:
    """ "Maximum job definition size (for RegisterJobDefinition API operations): 24 KiB".
    https://docs.aws.amazon.com/batch/latest/userguide/service_limits.html"""
    padding = "x" * (facts.MAX_JOB_DEFINITION_BYTES + 1024)

    message = _refused(lambda: target.definition("big", parameters={"pad": padding}))

    if target.local:
        assert message.startswith("Job definition size must be less than 24 KiB, got ")


@pytest.mark.parametrize(
    ("missing", "properties", "wording"),
    [
        ("vcpus", {"resourceRequirements": [{"type": "MEMORY", "value": "256"}]}, "vCPU"),
        ("memory", {"vcpus": 1}, "Memory"),
        ("both", {}, "vCPU"),
    ],
)
def test_an_ec2_definition_needs_vcpus_and_memory(
    target: Target, missing: str, properties: dict[str, Any], wording: str
) -> None:
    """On EC2 resources vCPUs and memory are required (`resourceRequirements` or the legacy
    `vcpus` and `memory`); AWS answers "vCPU is not provided."
    https://docs.aws.amazon.com/batch/latest/APIReference/API_ContainerProperties.html"""
    message = _refused(lambda: _register(target, f"ec2-{missing}", properties))

    if target.local or wording == "vCPU":
        assert f"{wording} is not provided." in message


def _fargate_resources(vcpus: str, memory: str) -> list[dict[str, str]]:
    return [{"type": "VCPU", "value": vcpus}, {"type": "MEMORY", "value": memory}]


@pytest.mark.parametrize(
    ("case", "properties", "wording"),
    [
        (
            "no execution role",
            {"resourceRequirements": _fargate_resources("1", "2048")},
            "executionRoleArn must be specified for jobs running on Fargate resources",
        ),
        (
            "1 vCPU with 1 GiB",
            {"executionRoleArn": ROLE, "resourceRequirements": _fargate_resources("1", "1024")},
            "Fargate resource requirements (1.00 vCPU, 1024 MiB) not valid.",
        ),
        (
            "3 vCPUs",
            {"executionRoleArn": ROLE, "resourceRequirements": _fargate_resources("3", "8192")},
            "Fargate resource requirements (3.00 vCPU, 8192 MiB) not valid.",
        ),
        (
            "old-style vcpus",
            {
                "executionRoleArn": ROLE,
                "vcpus": 1,
                "resourceRequirements": _fargate_resources("1", "2048"),
            },
            "vcpus is not applicable for Fargate. Use resource requirements instead.",
        ),
        (
            "a GPU",
            {
                "executionRoleArn": ROLE,
                "resourceRequirements": [
                    *_fargate_resources("1", "2048"),
                    {"type": "GPU", "value": "1"},
                ],
            },
            "GPU resources aren't supported for jobs that run on Fargate resources",
        ),
    ],
)
def test_a_fargate_definition_follows_fargates_rules(
    target: Target, case: str, properties: dict[str, Any], wording: str
) -> None:
    """Fargate: `executionRoleArn` must be given; memory and vCPUs only in
    `resourceRequirements`, as one of the pairs Fargate supports; no GPU.
    https://docs.aws.amazon.com/batch/latest/userguide/fargate-job-definitions.html and
    https://docs.aws.amazon.com/batch/latest/APIReference/API_ResourceRequirement.html"""
    message = _refused(
        lambda: _register(
            target,
            f"fargate-{case.replace(' ', '-')}",
            properties,
            platformCapabilities=["FARGATE"],
        )
    )

    if target.local:
        assert message == wording, case


def test_a_valid_fargate_definition_is_taken_and_its_overrides_are_checked(target: Target) -> None:
    """The pairs Fargate supports are taken; SubmitJob's overrides of a Fargate job follow the
    same rules ("vcpus is not applicable for Fargate" was answered to a SubmitJob).
    https://docs.aws.amazon.com/batch/latest/userguide/fargate-job-definitions.html"""
    definition = _register(
        target,
        "fargate-ok",
        {
            "executionRoleArn": target.job_role_arn or ROLE,
            "resourceRequirements": _fargate_resources("0.5", "3072"),
        },
        platformCapabilities=["FARGATE"],
    )

    def submit(overrides: Any) -> object:
        return target.batch.submit_job(
            jobName=target.name("fargate-override"),
            jobQueue=target.queue,
            jobDefinition=str(definition),
            containerOverrides=overrides,
        )

    legacy = _refused(lambda: submit({"vcpus": 1}))
    pair = _refused(lambda: submit({"resourceRequirements": [{"type": "MEMORY", "value": "8192"}]}))

    assert "vcpus is not applicable for Fargate. Use resource requirements instead." in legacy
    if target.local:
        assert pair == "Fargate resource requirements (0.50 vCPU, 8192 MiB) not valid."


@pytest.mark.parametrize("where", ["definition", "submission"])
def test_aws_batch_variables_are_reserved_in_definitions_and_overrides(
    target: Target, where: str
) -> None:
    """ "All variables that AWS Batch sets start with the AWS_BATCH_ prefix. This is a protected
    environment variable prefix. You can't use this prefix for your own variables in job
    definitions or overrides."
    https://docs.aws.amazon.com/batch/latest/userguide/job_env_vars.html"""
    environment = [{"name": "AWS_BATCH_MINE", "value": "1"}]
    if where == "definition":
        message = _refused(
            lambda: target.definition("reserved", containerProperties={"environment": environment})
        )
    else:
        definition = target.definition("not-reserved", target.script(scripts.ARGS))
        message = _refused(
            lambda: target.submit(definition, containerOverrides={"environment": environment})
        )

    if target.local:
        assert "AWS_BATCH_MINE" in message


@pytest.mark.parametrize("where", ["definition", "submission"])
def test_evaluate_on_exit_without_attempts_is_refused(target: Target, where: str) -> None:
    """A retry strategy needs `attempts`; AWS answers "RetryAttempts must be provided with retry
    strategy". https://docs.aws.amazon.com/batch/latest/APIReference/API_RetryStrategy.html"""
    strategy = {"evaluateOnExit": [{"onExitCode": "1", "action": "RETRY"}]}
    if where == "definition":
        message = _refused(lambda: target.definition("no-attempts", retryStrategy=strategy))
    else:
        definition = target.definition("attempts-elsewhere", target.script(scripts.ARGS))
        message = _refused(lambda: target.submit(definition, retryStrategy=strategy))

    assert "RetryAttempts must be provided with retry strategy" in message


def test_an_array_childs_arn_cannot_be_tagged(target: Target) -> None:
    """ "ARNs for child jobs of array and multi-node parallel (MNP) jobs aren't supported."
    https://docs.aws.amazon.com/batch/latest/APIReference/API_TagResource.html"""
    definition = target.definition("tagged-array", target.script(scripts.ARGS))
    parent = target.submit(definition, arrayProperties={"size": 2}, tags={"team": "a"})
    child_arn = target.describe(f"{parent}:0")["jobArn"]
    parent_arn = target.describe(parent)["jobArn"]

    tagged = _refused(lambda: target.batch.tag_resource(resourceArn=child_arn, tags={"x": "y"}))
    listed = _refused(lambda: target.batch.list_tags_for_resource(resourceArn=child_arn))
    untagged = _refused(lambda: target.batch.untag_resource(resourceArn=child_arn, tagKeys=["x"]))

    assert target.batch.list_tags_for_resource(resourceArn=parent_arn)["tags"] == {"team": "a"}
    if target.local:
        for message in (tagged, listed, untagged):
            assert message == (
                "ARNs for child jobs of array and multi-node parallel (MNP) jobs aren't supported."
            )
    target.wait([parent])


@pytest.mark.parametrize("operation", ["TagResource", "SubmitJob", "RegisterJobDefinition"])
def test_a_tag_value_over_256_characters_is_refused(target: Target, operation: str) -> None:
    """Tags: "Value Length Constraints: Maximum length of 256."
    https://docs.aws.amazon.com/batch/latest/APIReference/API_TagResource.html"""
    long = {"big": "v" * (facts.MAX_TAG_VALUE_LENGTH + 1)}
    definition = target.definition(f"tags-{operation.lower()}", target.script(scripts.ARGS))
    if operation == "TagResource":
        message = _refused(lambda: target.batch.tag_resource(resourceArn=definition, tags=long))
    elif operation == "SubmitJob":
        message = _refused(lambda: target.submit(definition, tags=long))
    else:
        message = _refused(lambda: target.definition("tags-long", tags=long))

    if target.local:
        assert message == "tag 'big': a tag value is at most 256 characters, got 257"


def test_get_log_events_takes_one_log_group_parameter(target: Target) -> None:
    """ "You must include one of these two parameters, but you can't include both."
    https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetLogEvents.html"""
    if target.kind == "moto":
        pytest.skip("a MotoWorld's CloudWatch Logs are moto's, which takes both")
    job_id = target.submit(target.definition("log-group", target.script(scripts.ARGS, "hi")))
    stream = target.wait([job_id])[job_id]["container"]["logStreamName"]

    _refused(
        lambda: target.logs.get_log_events(
            logGroupName=LOG_GROUP, logGroupIdentifier=LOG_GROUP, logStreamName=stream
        ),
        code="InvalidParameterException",
    )
    by_identifier = target.logs.get_log_events(logGroupIdentifier=LOG_GROUP, logStreamName=stream)
    assert [event["message"] for event in by_identifier["events"]] == ["hi"]
