"""`BatchRegistry`: one job definition per batch, registered once, deregistered exactly once.

The request it sends is read on its own; registering and deregistering run on a MotoWorld."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest

from pcr_sdk import BatchClosedError, BatchId, JobDefinitionSpec, JobSubmitter
from pcr_sdk._private.services.registry import register_request
from pcr_sdk._private.wire.facts import TAG_BATCH_ID, TAG_MANAGED_BY
from pcr_sdk.advanced import BatchRegistry
from tests.support.fakes import NoCalls

if TYPE_CHECKING:
    from pcr_sdk.testing import MotoWorld

FIXED = uuid.UUID("c6bc6ee9-1111-4222-8333-444455556666")


def test_the_definition_is_named_after_the_batch_and_tagged_as_pcr_sdks() -> None:
    batch_id = BatchId.new("reg", uuid_factory=lambda: FIXED)
    spec = JobDefinitionSpec(image="img", vcpus=2, memory_mib=512, gpus=1,
                             environment={"B": "2", "A": "1"}, tags={"team": "a"},
                             job_role_arn="arn:aws:iam::1:role/job", retry_attempts=3)  # fmt: skip
    request = register_request(batch_id, spec)
    assert request["jobDefinitionName"] == f"reg_{FIXED}"
    assert request["tags"] == {"team": "a", TAG_MANAGED_BY: "pcr-sdk", TAG_BATCH_ID: str(batch_id)}
    container = request["containerProperties"]
    assert container["resourceRequirements"] == [
        {"type": "VCPU", "value": "2"}, {"type": "MEMORY", "value": "512"},
        {"type": "GPU", "value": "1"},
    ]  # fmt: skip
    assert container["environment"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    assert container["jobRoleArn"] == "arn:aws:iam::1:role/job"
    assert "executionRoleArn" not in container  # EC2: no execution role
    assert request["retryStrategy"]["attempts"] == 3
    assert (request["propagateTags"], request["platformCapabilities"]) == (True, ["EC2"])


def test_a_registry_that_never_registered_closes_without_a_request() -> None:
    no_calls = NoCalls()
    registry = BatchRegistry(no_calls.clients.batch, BatchId.new("x"), JobDefinitionSpec(image="i"))
    assert registry.deregister() is False
    assert no_calls.sent == []


@pytest.mark.integration
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


@pytest.mark.integration
def test_registry_that_never_registered_makes_no_call(moto_world: MotoWorld) -> None:
    registry = BatchRegistry(
        moto_world.clients.batch, BatchId.new("x"), JobDefinitionSpec(image="i")
    )
    assert registry.deregister() is False
    assert moto_world.clients.batch.describe_job_definitions()["jobDefinitions"] == []


@pytest.mark.integration
def test_fargate_job_definition_and_attach_reads_it_back(moto_world: MotoWorld) -> None:
    role = moto_world.role_arn
    submitter = JobSubmitter(
        "fargate", moto_world.queue, "img", moto_world.bucket, clients=moto_world.clients,
        platform="FARGATE", execution_role_arn=role, gpus=0, vcpus=1, memory_in_mb=2048,
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


@pytest.mark.integration
def test_reopen_registers_a_new_revision_of_a_closed_batch_and_keeps_an_open_ones(
    moto_world: MotoWorld,
) -> None:
    batch = moto_world.clients.batch
    batch_id = BatchId.new("reopen")
    registry = BatchRegistry(batch, batch_id, JobDefinitionSpec(image="img"))
    first = registry.register()
    assert registry.reopen() == first  # open: the same revision, nothing registered
    assert registry.deregister() is True
    second = registry.reopen()
    assert second != first
    assert registry.arn == second
    revisions = batch.describe_job_definitions(jobDefinitionName=str(batch_id))["jobDefinitions"]
    assert {(d["revision"], d["status"]) for d in revisions} == {(1, "INACTIVE"), (2, "ACTIVE")}
    assert registry.deregister() is True
