"""`InputStore`: the S3 layout of inputs, resources and outputs, and S3's errors as pcr-sdk's."""

from __future__ import annotations

import json

import pytest

from pcr_sdk import (
    AccessDeniedError,
    BatchId,
    BatchLayout,
    BucketNotFoundError,
    OutputMalformedError,
    OutputNotFoundError,
)
from pcr_sdk.advanced import InputStore, JobSpec
from pcr_sdk.testing import Fault, MotoWorld

pytestmark = pytest.mark.integration


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
