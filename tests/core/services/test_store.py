"""`InputStore`: the S3 layout of inputs, resources and outputs, and S3's errors as pcr-sdk's.

Unit tests answer S3 with botocore's `Stubber` (the exact request checked, nothing sent); the
tests on a MotoWorld add botocore's retries and S3's own errors."""

from __future__ import annotations

import hashlib
import json
import tracemalloc
from typing import TYPE_CHECKING, Any

import pytest
from botocore.stub import Stubber

from pcr_sdk import (
    AccessDeniedError,
    BatchId,
    BatchLayout,
    BucketNotFoundError,
    InvalidJobSpecError,
    OutputMalformedError,
    OutputNotFoundError,
    S3Encryption,
)
from pcr_sdk._private.model.specs import CheckedInputs
from pcr_sdk._private.wire.packing import pack_head
from pcr_sdk.advanced import InputStore, JobSpec
from pcr_sdk.testing import Fault

if TYPE_CHECKING:
    from pcr_sdk.testing import MotoWorld
from tests.support.fakes import NoCalls, body

LAYOUT = BatchLayout("b_1")


def test_an_input_is_compact_json_at_its_key_with_the_owner_and_encryption() -> None:
    s3 = NoCalls().clients.s3
    kms = S3Encryption(algorithm="aws:kms", kms_key_id="alias/k")
    store = InputStore(s3, "bkt", LAYOUT, expected_bucket_owner="123456789012", encryption=kms)
    with Stubber(s3) as stubbed:
        stubbed.add_response("put_object", {}, {
            "Bucket": "bkt", "Key": "jobs/b_1/000007/config.json", "Body": b'{"a":[1,2]}',
            "ContentType": "application/json", "ExpectedBucketOwner": "123456789012",
            "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/k",
        })  # fmt: skip
        assert store.put_input(7, JobSpec.of({"a": [1, 2]})) == LAYOUT.config_key(7)
        stubbed.assert_no_pending_responses()
    assert store.uri(LAYOUT.config_key(7)) == "s3://bkt/jobs/b_1/000007/config.json"


def test_an_output_missing_or_not_utf8_json_is_a_typed_error_naming_its_key() -> None:
    s3 = NoCalls().clients.s3
    store = InputStore(s3, "bkt", LAYOUT)
    key = {"Bucket": "bkt", "Key": LAYOUT.output_key(2)}
    with Stubber(s3) as stubbed:
        stubbed.add_client_error("get_object", "NoSuchKey", http_status_code=404,
                                 expected_params=key)  # fmt: skip
        stubbed.add_response("get_object", {"Body": body(b"\xff\xfe")}, key)
        stubbed.add_response("get_object", {"Body": body(b"{not json")}, key)
        stubbed.add_response("get_object", {"Body": body(b'{"sq": 4}')}, key)
        with pytest.raises(OutputNotFoundError) as missing:
            store.get_output_text(2, job_id="j2")
        assert missing.value.key == LAYOUT.output_key(2)
        with pytest.raises(OutputMalformedError, match="UTF-8"):
            store.get_output_text(2)
        with pytest.raises(OutputMalformedError):
            store.get_output(2)
        assert store.get_output(2) == {"sq": 4}


def test_a_resource_stays_under_its_jobs_prefix_before_any_request() -> None:
    no_calls = NoCalls()
    store = InputStore(no_calls.clients.s3, "bkt", LAYOUT)
    for name in ("../../other-batch/x", "/abs", "a//b", ""):
        with pytest.raises(InvalidJobSpecError):
            store.put_resource(0, name, b"")
    assert no_calls.sent == []


@pytest.mark.integration
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


@pytest.mark.integration
def test_s3_server_errors_are_retried(moto_world: MotoWorld) -> None:
    handle = moto_world.faults.add(service="s3", operation="PutObject", kind=Fault.SERVER_ERROR)
    store = InputStore(moto_world.clients.s3, moto_world.bucket, BatchLayout("b_1"))
    store.put_input(0, JobSpec.of({"ok": True}))
    assert handle.injected == 1
    body = moto_world.clients.s3.get_object(
        Bucket=moto_world.bucket, Key="jobs/b_1/000000/config.json"
    )
    assert json.loads(body["Body"].read()) == {"ok": True}


@pytest.mark.integration
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


def test_packed_inputs_stream_part_by_part_holding_a_few_parts_not_the_inputs() -> None:
    """An array's inputs (50 MiB of JSON) go in 5 MiB parts, each input serialized as its part
    is cut: the upload holds a few parts at a time, never every input's JSON."""
    inputs = [{"i": i, "pad": "x" * (128 * 1024)} for i in range(400)]
    checked = CheckedInputs.check(inputs)
    expected = hashlib.sha256(pack_head(checked.sizes))
    for data in inputs:
        expected.update(json.dumps(data, separators=(",", ":")).encode())
    sent = hashlib.sha256()
    parts: list[int] = []

    def record(params: dict[str, Any], **_: object) -> None:
        parts.append(len(params["Body"]))
        sent.update(params["Body"])

    s3 = NoCalls().clients.s3
    s3.meta.events.register("before-parameter-build.s3.UploadPart", record, "pcr-test-parts")
    try:
        with Stubber(s3) as stubbed:
            stubbed.add_response("create_multipart_upload", {"UploadId": "u"})
            for _ in range(11):
                stubbed.add_response("upload_part", {"ETag": '"e"'})
            stubbed.add_response("complete_multipart_upload", {})
            tracemalloc.start()
            try:
                InputStore(s3, "bkt", LAYOUT).put_packed_inputs(10, checked)
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            stubbed.assert_no_pending_responses()
    finally:
        s3.meta.events.unregister(
            "before-parameter-build.s3.UploadPart", unique_id="pcr-test-parts"
        )
    total = sum(checked.sizes)
    assert total > 50 * 1024**2
    assert parts[:-1] == [5 * 1024**2] * 10
    assert sent.digest() == expected.digest()
    assert peak < total / 2, f"the upload held {peak} bytes at once for {total} bytes of JSON"
