"""`BatchRegistry`: one job definition per batch, registered once, deregistered exactly once."""

from __future__ import annotations

import pytest

from pcr_sdk import BatchClosedError, BatchId, JobDefinitionSpec, JobSubmitter
from pcr_sdk.advanced import BatchRegistry
from pcr_sdk.testing import MotoWorld

pytestmark = pytest.mark.integration  # every test here runs on a MotoWorld


def test_registry_registers_once_tags_and_deregisters_exactly_once(moto_world: MotoWorld) -> None:
    batch = moto_world.clients.batch
    batch_id = BatchId.new("reg")
    spec = JobDefinitionSpec(image="img", environment={"MODE": "fast"}, tags={"team": "a"})
    with BatchRegistry(batch, batch_id, spec) as registry:
        assert registry.register() == registry.arn  # idempotent
        (d,) = batch.describe_job_definitions(jobDefinitionName=str(batch_id))["jobDefinitions"]
        assert d["status"] == "ACTIVE"
        assert d["tags"] == {
            "team": "a",
            "pcr:managed-by": "pcr-sdk",
            "pcr:batch-id": str(batch_id),
        }
        assert d["containerProperties"]["environment"] == [{"name": "MODE", "value": "fast"}]
        assert registry.deregister() is True
    assert registry.deregister() is False  # __exit__ and this call did nothing more
    (d,) = batch.describe_job_definitions(jobDefinitionName=str(batch_id))["jobDefinitions"]
    assert d["status"] == "INACTIVE"
    with pytest.raises(BatchClosedError):
        registry.register()


def test_registry_that_never_registered_makes_no_call(moto_world: MotoWorld) -> None:
    registry = BatchRegistry(
        moto_world.clients.batch, BatchId.new("x"), JobDefinitionSpec(image="i")
    )
    assert registry.deregister() is False
    assert moto_world.clients.batch.describe_job_definitions()["jobDefinitions"] == []


def test_fargate_job_definition_and_attach_reads_it_back(moto_world: MotoWorld) -> None:
    role = moto_world.role_arn
    submitter = JobSubmitter(
        "fargate", moto_world.queue, "img", moto_world.bucket, clients=moto_world.clients,
        platform="FARGATE", execution_role_arn=role, gpus=0, vcpus=1,
    )  # fmt: skip
    batch = moto_world.clients.batch
    (d,) = batch.describe_job_definitions(jobDefinitionName=submitter.get_batch_id())[
        "jobDefinitions"
    ]
    assert d["platformCapabilities"] == ["FARGATE"]
    assert d["containerProperties"]["executionRoleArn"] == role
    assert d["containerProperties"]["networkConfiguration"] == {"assignPublicIp": "ENABLED"}
    found = BatchRegistry.find(batch, submitter.batch_id)
    assert (found.spec.platform, found.spec.execution_role_arn) == ("FARGATE", role)
    submitter.close()
