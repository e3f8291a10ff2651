"""Each service on its own, on moto: BatchRegistry, InputStore, Submitter (with faults)."""

from __future__ import annotations

import json

import pytest

from pcr_sdk import (
    AccessDeniedError,
    BatchClosedError,
    BatchId,
    BatchLayout,
    BucketNotFoundError,
    InvalidJobSpecError,
    JobDefinitionSpec,
    JobSubmitter,
    OutputMalformedError,
    OutputNotFoundError,
    RateGovernor,
    ThrottledError,
)
from pcr_sdk.advanced import BatchRegistry, InputStore, JobSpec, Submitter
from pcr_sdk.testing import Fault, MotoWorld
from tests.support.fakes import FakeClock

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


def test_input_store_layout_resources_and_errors(moto_world: MotoWorld) -> None:
    layout = BatchLayout(str(BatchId.new("store")))
    store = InputStore(moto_world.clients.s3, moto_world.bucket, layout)
    key = store.put_input(4, JobSpec.of({"a": [1, 2]}))
    assert key == layout.config_key(4)
    assert store.get_input(4) == {"a": [1, 2]}
    uri = store.put_resource(4, "data/x.bin", b"\x01")
    assert uri == f"s3://{moto_world.bucket}/{layout.prefix(4)}/data/x.bin"
    assert store.get_resource(4, "data/x.bin") == b"\x01"
    with pytest.raises(OutputNotFoundError):
        store.get_output_text(4)
    s3 = moto_world.clients.s3
    s3.put_object(Bucket=moto_world.bucket, Key=layout.output_key(4), Body=b"{not json")
    assert store.get_output_text(4) == "{not json"
    with pytest.raises(OutputMalformedError):
        store.get_output(4)
    s3.put_object(Bucket=moto_world.bucket, Key=layout.output_key(5), Body=b"\xff\xfe")
    with pytest.raises(OutputMalformedError, match="UTF-8"):
        store.get_output_text(5)
    with pytest.raises(BucketNotFoundError):
        InputStore(s3, "no-such-bucket", layout).put_input(0, JobSpec.of({}))


def _submitter(world: MotoWorld, governor: RateGovernor | None = None) -> Submitter:
    layout = BatchLayout(str(BatchId.new("sub")))
    arn = world.register_job_definition(layout.batch_id)
    return Submitter(
        world.clients.batch,
        job_queue=world.queue,
        bucket=world.bucket,
        layout=layout,
        job_definition=arn,
        governor=governor,
    )


def test_submitter_sends_the_contract_and_is_governed(moto_world: MotoWorld) -> None:
    clock = FakeClock()
    governor = RateGovernor(2, 1.0, clock=clock, sleep=clock.sleep)
    submitter = _submitter(moto_world, governor)
    ids = [submitter.submit(i, environment={"EXTRA": "1"}) for i in range(5)]
    assert len(set(ids)) == 5
    assert clock.sleeps == [pytest.approx(1.0), pytest.approx(1.0)]  # 2 a second: waits at 3, 5
    calls = moto_world.submitted()
    assert [c.environment["S3_JOB_PREFIX"] for c in calls] == [
        submitter.layout.prefix(i) for i in range(5)
    ]
    assert calls[0].environment["EXTRA"] == "1"


def test_submitter_rejects_oversized_requests_before_calling(moto_world: MotoWorld) -> None:
    submitter = _submitter(moto_world)
    with pytest.raises(InvalidJobSpecError, match="8192"):
        submitter.submit(0, environment={"BIG": "x" * 9000})
    with pytest.raises(InvalidJobSpecError, match="at least 60"):
        submitter.submit(0, timeout_seconds=59)
    with pytest.raises(InvalidJobSpecError, match="at most 20"):
        submitter.submit(0, depends_on=[f"j{i}" for i in range(21)])
    assert moto_world.submitted() == []


def test_throttled_submit_is_retried_by_botocore_and_lands_once(moto_world: MotoWorld) -> None:
    handle = moto_world.faults.add(
        service="batch", operation="SubmitJob", kind=Fault.THROTTLE, times=3
    )
    submitter = _submitter(moto_world)
    job_id = submitter.submit(0)
    assert handle.injected == 3
    listed = moto_world.clients.batch.describe_jobs(jobs=[job_id])["jobs"]
    assert len(listed) == 1
    assert len(moto_world.submitted()) == 1


def test_throttling_beyond_the_retry_budget_is_a_typed_error(moto_world: MotoWorld) -> None:
    moto_world.faults.add(service="batch", operation="SubmitJob", kind=Fault.THROTTLE, times=50)
    with pytest.raises(ThrottledError) as info:
        _submitter(moto_world).submit(0)
    assert info.value.operation == "SubmitJob"
    assert info.value.code == "TooManyRequestsException"


def test_s3_server_errors_are_retried(moto_world: MotoWorld) -> None:
    handle = moto_world.faults.add(service="s3", operation="PutObject", kind=Fault.SERVER_ERROR)
    store = InputStore(moto_world.clients.s3, moto_world.bucket, BatchLayout("b_1"))
    store.put_input(0, JobSpec.of({"ok": True}))
    assert handle.injected == 1
    body = moto_world.clients.s3.get_object(
        Bucket=moto_world.bucket, Key="jobs/b_1/000000/config.json"
    )
    assert json.loads(body["Body"].read()) == {"ok": True}


def test_access_denied_is_mapped(moto_world: MotoWorld) -> None:
    s3 = moto_world.clients.s3

    def deny(**_: object) -> None:
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "PutObject")

    s3.meta.events.register_first("before-call.s3.PutObject", deny)
    with pytest.raises(AccessDeniedError) as info:
        InputStore(s3, moto_world.bucket, BatchLayout("b_1")).put_input(0, JobSpec.of({}))
    assert info.value.key == "jobs/b_1/000000/config.json"
    assert info.value.bucket == moto_world.bucket


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"platform": "FARGATE", "gpus": 1, "execution_role_arn": "r"}, "GPUs"),
        ({"platform": "FARGATE"}, "execution_role_arn"),
        ({"platform": "FARGATE", "vcpus": 3, "execution_role_arn": "r"}, "vCPUs"),
        ({"execution_role_arn": "r"}, "FARGATE"),
    ],
)
def test_fargate_rules(fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidJobSpecError, match=message):
        JobDefinitionSpec.build(image="img", **fields)


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
