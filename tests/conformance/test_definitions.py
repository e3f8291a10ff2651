"""Point 8: DescribeJobDefinitions pages of 1 to 100, valid while definitions are deregistered."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.conformance.target import Target

pytestmark = [pytest.mark.conformance, pytest.mark.slow]

COUNT = 151


def test_deregister_all_sees_every_definition_in_one_run(target: Target) -> None:
    """The seed's "deregister all" loop: page ACTIVE definitions 100 at a time and deregister
    each as it is seen. Paging "continues from the end of the previous results", so one run
    reaches all 151. https://docs.aws.amazon.com/batch/latest/APIReference/API_DescribeJobDefinitions.html"""
    base = target.name("dereg")
    arns = {
        target.batch.register_job_definition(
            jobDefinitionName=f"{base}-{i}",
            type="container",
            containerProperties={
                "image": target.image,
                "resourceRequirements": [
                    {"type": "VCPU", "value": "1"},
                    {"type": "MEMORY", "value": "256"},
                ],
            },
        )["jobDefinitionArn"]
        for i in range(COUNT)
    }
    deregistered: list[str] = []
    try:
        token: str | None = None
        while True:
            page = target.batch.describe_job_definitions(
                status="ACTIVE", maxResults=100, **({"nextToken": token} if token else {})
            )
            for definition in page["jobDefinitions"]:
                if definition["jobDefinitionArn"] in arns:  # other definitions are not ours
                    target.batch.deregister_job_definition(
                        jobDefinition=definition["jobDefinitionArn"]
                    )
                    deregistered.append(definition["jobDefinitionArn"])
            token = page.get("nextToken")
            if token is None:
                break
    finally:
        for arn in arns - set(deregistered):
            target.batch.deregister_job_definition(jobDefinition=arn)

    assert sorted(deregistered) == sorted(arns)


@pytest.mark.parametrize("max_results", [0, 101])
def test_max_results_is_between_1_and_100(target: Target, max_results: int) -> None:
    """ "This value can be between 1 and 100."
    https://docs.aws.amazon.com/batch/latest/APIReference/API_DescribeJobDefinitions.html"""
    with pytest.raises(ClientError) as err:
        target.batch.describe_job_definitions(maxResults=max_results)
    assert err.value.response["Error"]["Code"] == "ClientException"
