"""The one module that reaches into moto's S3 state (moto >= 5.0.20, <= 5.2.5, see pyproject).

The embedded S3 is moto's server application; its buckets and objects live in moto's backends,
which belong to the whole process. The S3 mirror reads an object's current state from there
after a request changed it, puts kept objects back at start (with their ETag, LastModified,
metadata and tags: a restart changes none of them), and takes a kept account's buckets out
again on close, without a request that the mirror would record as a deletion.
`tests/local/test_moto_s3.py` pins every attribute used here.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.s3.models import FakeKey, S3Backend, s3_backends
from moto.utilities.utils import get_partition


@dataclass(frozen=True)
class ObjectState:
    """Everything kept of one object besides its bytes."""

    key: str
    etag: str
    """Without the quotes (`9a0364b9e99bb480dd25e1f0284c8555`, or `...-3` for a multipart)."""
    last_modified: datetime.datetime
    """Naive, in UTC, as moto keeps it."""
    size: int
    metadata: dict[str, str] = field(default_factory=dict)
    """Content-Type, x-amz-meta-*, ... as moto keeps them."""
    tags: dict[str, str] = field(default_factory=dict)
    storage_class: str = "STANDARD"
    checksum_algorithm: str | None = None
    checksum_value: str | None = None


def _backend_of(bucket: str) -> S3Backend | None:
    found = s3_backends.bucket_accounts.get(bucket)
    if found is None:
        return None
    partition, account_id = found
    backend: S3Backend = s3_backends[account_id][partition]
    return backend


def _server_backend(region: str) -> S3Backend:
    """The backend moto's server application uses for the backend's keys (no IAM user)."""
    account_id = os.environ.get("MOTO_ACCOUNT_ID", DEFAULT_ACCOUNT_ID)
    backend: S3Backend = s3_backends[account_id][get_partition(region)]
    return backend


def bucket_exists(bucket: str) -> bool:
    """Whether moto has a bucket of that name (in any account: bucket names are global)."""
    return bucket in s3_backends.bucket_accounts


def bucket_region(bucket: str) -> str | None:
    backend = _backend_of(bucket)
    return None if backend is None else str(backend.get_bucket(bucket).region_name)


def _current_key(bucket: str, key: str) -> FakeKey | None:
    backend = _backend_of(bucket)
    if backend is None:
        return None
    keys = backend.get_bucket(bucket).keys
    found = keys.get(key) if key in keys else None
    return found if isinstance(found, FakeKey) else None  # not a delete marker


def object_keys(bucket: str) -> list[str]:
    """The keys of the bucket's current objects."""
    backend = _backend_of(bucket)
    if backend is None:
        return []
    keys = backend.get_bucket(bucket).keys
    return [name for name in list(keys.keys()) if isinstance(keys.get(name), FakeKey)]


def read_object(bucket: str, key: str, write: Callable[[ObjectState, IO[bytes]], None]) -> bool:
    """Hand the object's state and bytes to `write` (under the object's lock); False if absent."""
    found = _current_key(bucket, key)
    if found is None:
        return False
    backend = _backend_of(bucket)
    tags = backend.tagger.get_tag_dict_for_resource(found.arn) if backend is not None else {}
    state = ObjectState(
        key=key,
        etag=found.etag.strip('"'),
        last_modified=found.last_modified,
        size=found.size,
        metadata={str(k): str(v) for k, v in found.metadata.items()},
        tags=dict(tags),
        storage_class=str(found.storage_class or "STANDARD"),
        checksum_algorithm=found.checksum_algorithm,
        checksum_value=found.checksum_value,
    )
    with found.lock:
        buffer: IO[bytes] = found._value_buffer
        buffer.seek(0)
        write(state, buffer)
    return True


def create_bucket(bucket: str, region: str) -> None:
    """Create the bucket in the account moto's server answers the backend's keys with."""
    _server_backend(region).create_bucket(bucket, region)


def restore_object(bucket: str, state: ObjectState, value: bytes) -> None:
    """Put a kept object back as it was: same bytes, ETag, LastModified, metadata and tags."""
    backend = _backend_of(bucket)
    if backend is None:
        raise KeyError(bucket)
    stored = backend.put_object(
        bucket,
        state.key,
        value,
        storage=state.storage_class,
        etag=state.etag,
        checksum_value=state.checksum_value,
        disable_notification=True,
    )
    stored.checksum_algorithm = state.checksum_algorithm
    stored.set_metadata(dict(state.metadata))
    stored.last_modified = state.last_modified
    if state.tags:
        backend.tagger.tag_resource(
            stored.arn, backend.tagger.convert_dict_to_tags_input(state.tags)
        )


def forget_bucket(bucket: str) -> None:
    """Take the bucket and every object in it out of moto (not recorded anywhere)."""
    backend = _backend_of(bucket)
    if backend is None:
        return
    found = backend.buckets.get(bucket)
    if found is None:
        return
    for versions in _key_lists(found.keys):
        for key in versions:
            if isinstance(key, FakeKey):
                backend.tagger.delete_all_tags_for_resource(key.arn)
                key.dispose()
    for upload in list(found.multiparts.values()):
        upload.dispose()
    backend.tagger.delete_all_tags_for_resource(found.arn)
    backend.buckets.pop(bucket, None)
    s3_backends.bucket_accounts.pop(bucket, None)


def _key_lists(keys: Any) -> Iterator[list[Any]]:
    for name in list(keys.keys()):
        yield list(keys.getlist(name, []))
