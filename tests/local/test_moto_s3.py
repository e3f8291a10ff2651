"""The one module that reaches into moto's S3 state (`_moto_s3`): the moto attributes and
signatures it relies on pinned (unit: read from the classes, no S3 state touched), the answers
for a bucket moto does not have, and (`integration`: moto's process-wide backends) an object put
back with its bytes, ETag, LastModified, metadata and tags, read out again, and a bucket taken
out of moto without a trace."""

from __future__ import annotations

import datetime
import inspect
import uuid
from collections.abc import Iterator
from typing import IO

import pytest
from moto.s3.models import FakeBucket, FakeKey, S3Backend

from pcr_sdk.local import _moto_s3 as moto

WHEN = datetime.datetime(2023, 1, 2, 3, 4, 5, 678000)


def test_the_moto_signatures_it_calls_are_pinned() -> None:
    put = inspect.signature(S3Backend.put_object).parameters
    assert {"storage", "etag", "checksum_value", "disable_notification"} <= set(put)
    assert list(put)[1:4] == ["bucket_name", "key_name", "value"]
    assert list(inspect.signature(S3Backend.create_bucket).parameters)[1:3] == [
        "bucket_name",
        "region_name",
    ]
    for method in ("get_bucket", "put_object", "create_bucket"):
        assert callable(getattr(S3Backend, method))
    for method in ("set_metadata", "dispose"):
        assert callable(getattr(FakeKey, method))
    assert {"etag", "size", "metadata", "arn"} <= {n for n, _ in inspect.getmembers(FakeKey)}
    assert "arn" in {n for n, _ in inspect.getmembers(FakeBucket)}


def test_an_object_state_keeps_defaults_and_is_frozen() -> None:
    state = moto.ObjectState(key="k", etag="e", last_modified=WHEN, size=0)
    assert (state.metadata, state.tags, state.storage_class) == ({}, {}, "STANDARD")
    assert (state.checksum_algorithm, state.checksum_value) == (None, None)
    with pytest.raises(AttributeError):
        state.key = "other"  # type: ignore[misc]


def test_a_bucket_moto_does_not_have_answers_empty_and_is_never_written() -> None:
    missing = f"pcr-absent-{uuid.uuid4().hex[:12]}"
    writes: list[object] = []
    assert not moto.bucket_exists(missing)
    assert moto.bucket_region(missing) is None
    assert moto.object_keys(missing) == []
    assert not moto.read_object(missing, "k", lambda state, body: writes.append(state))
    assert writes == []
    moto.forget_bucket(missing)  # nothing to forget: no error
    state = moto.ObjectState(key="k", etag="e", last_modified=WHEN, size=1)
    with pytest.raises(KeyError):
        moto.restore_object(missing, state, b"x")
    assert not moto.bucket_exists(missing)


@pytest.fixture
def bucket() -> Iterator[str]:
    """A bucket in moto's process-wide S3, taken out again after the test."""
    name = f"pcr-moto-s3-{uuid.uuid4().hex[:12]}"
    moto.create_bucket(name, "eu-west-1")
    yield name
    moto.forget_bucket(name)


@pytest.mark.integration
def test_an_object_is_put_back_as_it_was_kept(bucket: str) -> None:
    assert moto.bucket_exists(bucket)
    assert moto.bucket_region(bucket) == "eu-west-1"
    state = moto.ObjectState(
        key="jobs/b_1/000000/output.json", etag="0123456789abcdef0123456789abcdef-2",
        last_modified=WHEN, size=5, metadata={"content-type": "application/json"},
        tags={"kind": "output"}, storage_class="STANDARD_IA", checksum_algorithm="CRC32",
        checksum_value="AAAAAA==",
    )  # fmt: skip
    moto.restore_object(bucket, state, b"hello")
    read: list[tuple[moto.ObjectState, bytes]] = []

    def write(found: moto.ObjectState, body: IO[bytes]) -> None:
        read.append((found, body.read()))

    assert moto.read_object(bucket, state.key, write)
    assert read == [(state, b"hello")]  # ETag, LastModified, metadata, tags: unchanged
    assert moto.object_keys(bucket) == [state.key]
    assert not moto.read_object(bucket, "other", write)


@pytest.mark.integration
def test_a_bucket_forgotten_leaves_nothing_in_moto(bucket: str) -> None:
    state = moto.ObjectState(key="k", etag="e" * 32, last_modified=WHEN, size=1,
                             tags={"t": "v"})  # fmt: skip
    moto.restore_object(bucket, state, b"x")
    read: list[bytes] = []
    moto.read_object(bucket, "k", lambda found, value: read.append(value.read()))
    assert read == [b"x"]
    moto.forget_bucket(bucket)
    assert not moto.bucket_exists(bucket)
    assert moto.object_keys(bucket) == []
    moto.create_bucket(bucket, "us-east-1")  # the name is free again, and empty
    assert moto.object_keys(bucket) == []
    assert moto.bucket_region(bucket) == "us-east-1"
