"""InputStore: the job bucket's objects, in the layout of the original system."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Final

from pcr_sdk._private.edge.mapping import aws_call
from pcr_sdk._private.errors import (
    AwsError,
    InvalidJobSpecError,
    OutputMalformedError,
    OutputNotFoundError,
)
from pcr_sdk._private.model.specs import CheckedInputs, JobSpec, S3Encryption, utf8_size
from pcr_sdk._private.public import public
from pcr_sdk._private.wire.facts import (
    MAX_OBJECT_BYTES,
    MAX_PARTS,
    MAX_SINGLE_PUT_BYTES,
    MIN_PART_BYTES,
    NO_SUCH_KEY_ERROR_CODES,
)
from pcr_sdk._private.wire.layout import BatchLayout
from pcr_sdk._private.wire.packing import pack_head, pack_indexed, read_table, table_range

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

logger = logging.getLogger(__name__)

DELETE_OBJECTS_MAX_KEYS = 1000
"""S3's DeleteObjects takes at most 1,000 keys a call."""
LIST_OUTPUTS_ONE_BY_ONE = 100
"""Up to this many jobs, `outputs_present` lists each job's prefix; above, the batch's."""
PART_BYTES: Final = MIN_PART_BYTES
"""The part size of a multipart upload: S3's smallest (5 MiB), since an upload holds a few parts
at once; more for objects over 50 GB (at most 10,000 parts)."""
MULTIPART_ABOVE_BYTES: Final = 16 * 1024**2
"""Bodies larger than this are uploaded in parts, never held whole."""


@public("pcr_sdk.advanced")
@dataclass(frozen=True)
class StoredObject:
    """One object as ListObjectsV2 shows it."""

    key: str
    """Its key."""
    size: int
    """Its size in bytes."""
    last_modified: datetime
    """When it was last written, by S3's clock."""
    etag: str
    """Its ETag (changes with every write)."""


@public("pcr_sdk.advanced")
@dataclass(frozen=True)
class Listing:
    """The objects under a prefix, and S3's clock when it answered."""

    objects: tuple[StoredObject, ...]
    """The objects, in key order."""
    server_time: datetime | None
    """The `Date` of S3's first answer (its clock, not this machine's); None if it sent none."""


@public("pcr_sdk.advanced")
class InputStore:
    """Reads and writes one batch's objects: config.json in, output.json out, extra resources.

    Every method raises `AwsError` (mapped) when an S3 call fails.

    Args:
        s3: the S3 client.
        bucket: the job bucket.
        layout: where the batch's objects live in it.
        expected_bucket_owner: the 12-digit account every call expects to own the bucket (S3
            refuses the call otherwise); None: no check.
        encryption: server-side encryption of every object written; None: the bucket's default.
    """

    def __init__(
        self,
        s3: S3Client,
        bucket: str,
        layout: BatchLayout,
        *,
        expected_bucket_owner: str | None = None,
        encryption: S3Encryption | None = None,
    ) -> None:
        self._s3 = s3
        self.bucket = bucket
        self.layout = layout
        self.expected_bucket_owner = expected_bucket_owner
        self.encryption = encryption
        # ExpectedBucketOwner makes S3 refuse the call if someone else owns a bucket by that name
        self._owner: dict[str, Any] = (
            {"ExpectedBucketOwner": expected_bucket_owner} if expected_bucket_owner else {}
        )
        self._sse: dict[str, Any] = {}
        if encryption is not None:
            self._sse["ServerSideEncryption"] = encryption.algorithm
            if encryption.kms_key_id:
                self._sse["SSEKMSKeyId"] = encryption.kms_key_id

    def uri(self, key: str) -> str:
        """`s3://<bucket>/<key>`, for messages."""
        return f"s3://{self.bucket}/{key}"

    def put_input(self, index: int, spec: JobSpec) -> str:
        """Write job `index`'s config.json.

        Args:
            index: the job's index.
            spec: the job, its input already serialized.

        Returns:
            The config.json's key.
        """
        key = self.layout.config_key(index)
        self._put(key, spec.input_json.encode(), content_type="application/json")
        return key

    def put_packed_inputs(self, base_index: int, specs: Sequence[JobSpec]) -> str:
        """Write the inputs of an array job as one packed object, streamed: above 16 MiB in
        parts of 5 MiB (S3 multipart), each input encoded only when its part is written.

        Args:
            base_index: the job index of the array's child 0.
            specs: the children's jobs, in child order.

        Returns:
            The packed object's key (`BatchLayout.array_inputs_key`).

        Raises:
            InvalidJobSpecError: the pack would be larger than an S3 object may be (5 TiB).
        """
        key = self.layout.array_inputs_key(base_index)
        if isinstance(specs, CheckedInputs):  # measured once already, encoded part by part
            sizes = specs.sizes
            payloads: Iterable[bytes] = (specs.encoded(i) for i in range(len(specs)))
        else:
            sizes = [utf8_size(spec.input_json) for spec in specs]
            payloads = (spec.input_json.encode() for spec in specs)
        head = pack_head(sizes)
        size = len(head) + sum(sizes)
        self.upload(key, _chain([head], payloads), size)
        return key

    def upload(
        self, key: str, chunks: Iterable[bytes], size: int, *, content_type: str | None = None
    ) -> None:
        """Write the object `key` from `chunks` (`size` bytes in all): one PutObject up to 16
        MiB, else a multipart upload whose parts are cut from the chunks as they come (at most
        one part and one chunk are held at a time). A failed multipart upload is aborted.

        Args:
            key: the object's key.
            chunks: the body, in order.
            size: the body's length in bytes (it sets the part size: at most 10,000 parts).
            content_type: the object's Content-Type, if any.

        Raises:
            InvalidJobSpecError: `size` is more than an S3 object may hold (5 TiB).
        """
        if size > MAX_OBJECT_BYTES:
            raise InvalidJobSpecError(
                f"{self.uri(key)} would be {size} bytes; an S3 object holds at most "
                f"{MAX_OBJECT_BYTES}",
                field="size",
            )
        if size <= MULTIPART_ABOVE_BYTES:
            self._put(key, b"".join(chunks), content_type=content_type)
            return
        part_size = max(PART_BYTES, math.ceil(size / MAX_PARTS))
        extra: dict[str, Any] = {**self._owner, **self._sse}
        if content_type:
            extra["ContentType"] = content_type
        with aws_call("CreateMultipartUpload", bucket=self.bucket, key=key):
            upload_id = self._s3.create_multipart_upload(Bucket=self.bucket, Key=key, **extra)[
                "UploadId"
            ]
        try:
            parts = [
                self._upload_part(key, upload_id, number, body)
                for number, body in enumerate(_parts(chunks, part_size), start=1)
            ]
            with aws_call("CompleteMultipartUpload", bucket=self.bucket, key=key):
                self._s3.complete_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload_id,
                    MultipartUpload={"Parts": parts}, **self._owner,
                )  # fmt: skip
        except BaseException:
            self._abort(key, upload_id)
            raise

    def _upload_part(
        self, key: str, upload_id: str, number: int, body: bytes
    ) -> CompletedPartTypeDef:
        with aws_call("UploadPart", bucket=self.bucket, key=key):
            answer = self._s3.upload_part(
                Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body,
                **self._owner,
            )  # fmt: skip
        return {"PartNumber": number, "ETag": answer["ETag"]}

    def _abort(self, key: str, upload_id: str) -> None:
        try:
            with aws_call("AbortMultipartUpload", bucket=self.bucket, key=key):
                self._s3.abort_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, **self._owner
                )
        except AwsError as err:  # the bucket's lifecycle rule removes it in the end
            logger.warning("multipart upload of %s not aborted: %s", self.uri(key), err)

    def put_indexed_inputs(self, key: str, entries: Sequence[tuple[int, bytes]]) -> str:
        """Write the inputs of a rerun array, each with its job index, as one indexed pack.

        Args:
            key: where to write it (`BatchLayout.indexed_inputs_key`).
            entries: (job index, serialized input) of each child, in child order.

        Returns:
            `key`.
        """
        body = pack_indexed(entries)
        self.upload(key, [body], len(body))
        return key

    def read_index_table(self, key: str, size: int) -> list[int]:
        """The job indexes of the `size` children of the indexed pack at `key` (one ranged GET).

        Args:
            key: the indexed pack's key.
            size: how many children the pack holds.

        Returns:
            Each child's job index, in child order.

        Raises:
            OutputNotFoundError: there is no object at `key`.
        """
        first, last = table_range(size)
        return read_table(self._get(key, byte_range=(first, last)), size)

    def put_input_bytes(self, index: int, body: bytes) -> str:
        """Write job `index`'s config.json from its serialized input.

        Args:
            index: the job's index.
            body: the input's JSON, encoded.

        Returns:
            The config.json's key.
        """
        key = self.layout.config_key(index)
        self._put(key, body, content_type="application/json")
        return key

    def delete_outputs(self, indexes: Sequence[int]) -> None:
        """Remove the output.json of each job in `indexes` (absent ones are fine): DeleteObjects,
        1,000 keys a call.

        Args:
            indexes: the jobs' indexes.

        Raises:
            AwsError: S3 refused a key, or a call failed.
        """
        keys = [self.layout.output_key(index) for index in indexes]
        for start in range(0, len(keys), DELETE_OBJECTS_MAX_KEYS):
            chunk = keys[start : start + DELETE_OBJECTS_MAX_KEYS]
            with aws_call("DeleteObjects", bucket=self.bucket, key=chunk[0]):
                answer = self._s3.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": key} for key in chunk], "Quiet": True},
                    **self._owner,
                )
            errors = answer.get("Errors", [])
            if errors:
                first = errors[0]
                raise AwsError(
                    f"DeleteObjects refused {len(errors)} key(s), e.g. {first.get('Key')}: "
                    f"{first.get('Code')} {first.get('Message', '')}".rstrip(),
                    operation="DeleteObjects",
                    code=first.get("Code"),
                    bucket=self.bucket,
                    key=first.get("Key"),
                )

    def outputs_present(self, indexes: Sequence[int]) -> set[int]:
        """Which jobs of `indexes` have an output.json: each job's prefix listed (a few
        jobs), else the whole batch's (1,000 keys a call).

        Args:
            indexes: the jobs' indexes.

        Returns:
            The indexes, of those, whose output.json exists.
        """
        wanted = set(indexes)
        if len(wanted) <= LIST_OUTPUTS_ONE_BY_ONE:
            keys = [k for i in sorted(wanted) for k in self.list_keys(f"{self.layout.prefix(i)}/")]
        else:
            keys = self.list_keys(f"{self.layout.root}/")
        present = {key for key in keys if key.endswith("/output.json")}
        return {i for i in wanted if self.layout.output_key(i) in present}

    def get_input(self, index: int) -> Any:
        """Read back job `index`'s input.

        Args:
            index: the job's index.

        Returns:
            The config.json's JSON value.

        Raises:
            OutputNotFoundError: there is no config.json.
        """
        return json.loads(self._get(self.layout.config_key(index)))

    def get_output_text(self, index: int, *, job_id: str | None = None) -> str:
        """Job `index`'s output.json as text.

        Args:
            index: the job's index.
            job_id: the job's id, for the errors' messages.

        Returns:
            The text.

        Raises:
            OutputNotFoundError: there is no output.json.
            OutputMalformedError: it is not UTF-8.
        """
        key = self.layout.output_key(index)
        body = self._get(key, job_id=job_id)
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError as err:
            raise OutputMalformedError(
                f"output of job {job_id or index} at {self.uri(key)} is not UTF-8",
                key=key,
                job_id=job_id,
            ) from err

    def get_output(self, index: int, *, job_id: str | None = None) -> Any:
        """Job `index`'s output.json, parsed.

        Args:
            index: the job's index.
            job_id: the job's id, for the errors' messages.

        Returns:
            The JSON value.

        Raises:
            OutputNotFoundError: there is no output.json.
            OutputMalformedError: it is not UTF-8 JSON.
        """
        text = self.get_output_text(index, job_id=job_id)
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            key = self.layout.output_key(index)
            raise OutputMalformedError(
                f"output of job {job_id or index} at {self.uri(key)} is not JSON: {err}",
                key=key,
                job_id=job_id,
            ) from err

    def put_json(self, key: str, value: object) -> None:
        """Write a small JSON document pcr-sdk keeps for itself (the manifest).

        Args:
            key: where to write it.
            value: JSON-serializable data, written compactly.
        """
        self._put(
            key, json.dumps(value, separators=(",", ":")).encode(), content_type="application/json"
        )

    def get_json(self, key: str) -> Any:
        """Read object `key` of the bucket as JSON.

        Args:
            key: the object's key.

        Returns:
            The JSON value.

        Raises:
            OutputNotFoundError: there is no such object.
            AwsError: the read failed (mapped).
        """
        return json.loads(self._get(key))

    def list_keys(self, prefix: str) -> list[str]:
        """Every key under `prefix`, in key order.

        Args:
            prefix: a key prefix (end it with `/` for a folder).

        Returns:
            The keys.
        """
        return [key for key, _ in self.list_objects(prefix)]

    def list_objects(self, prefix: str) -> list[tuple[str, int]]:
        """Every (key, size) under `prefix`, in key order.

        Args:
            prefix: a key prefix (end it with `/` for a folder).

        Returns:
            (key, size in bytes) of each object.
        """
        found: list[tuple[str, int]] = []
        with aws_call("ListObjectsV2", bucket=self.bucket, key=prefix):
            for page in self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix, **self._owner
            ):
                found.extend((obj["Key"], obj.get("Size", 0)) for obj in page.get("Contents", []))
        return found

    def list_detailed(self, prefix: str) -> Listing:
        """Every object under `prefix` with its size, time and ETag, and S3's clock.

        Args:
            prefix: a key prefix (end it with `/` for a folder).

        Returns:
            The listing (one ListObjectsV2 per 1,000 objects).
        """
        found: list[StoredObject] = []
        server_time: datetime | None = None
        with aws_call("ListObjectsV2", bucket=self.bucket, key=prefix):
            for page in self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix, **self._owner
            ):
                if server_time is None:
                    server_time = _server_time(page)
                for obj in page.get("Contents", []):
                    found.append(
                        StoredObject(
                            obj["Key"], obj.get("Size", 0), obj["LastModified"], obj.get("ETag", "")
                        )
                    )
        return Listing(tuple(found), server_time)

    def get_bytes(self, key: str, *, max_bytes: int | None = None) -> bytes:
        """The object at `key`; with `max_bytes`, at most that many bytes plus one (a ranged
        GET: a longer object is never read whole, and the caller sees that it is longer).

        Args:
            key: the object's key.
            max_bytes: read no more than this many bytes, plus one.

        Returns:
            Its bytes.

        Raises:
            OutputNotFoundError: there is no object at `key`.
        """
        if max_bytes is None:
            return self._get(key)
        return self._get(key, byte_range=(0, max_bytes))

    def put_json_if(
        self, key: str, value: object, *, absent: bool = False, etag: str | None = None
    ) -> str:
        """Write a small JSON document only if `key` does not exist yet (`absent`, S3's
        If-None-Match) or still has ETag `etag` (If-Match): S3 refuses the write otherwise,
        atomically, so two writers never both succeed.

        Args:
            key: where to write it.
            value: JSON-serializable data.
            absent: write only if there is no object at `key`.
            etag: write only if the object at `key` has this ETag.

        Returns:
            The ETag of the object written.

        Raises:
            AwsError: S3 refused the write (code `PreconditionFailed`: the condition did not
                hold; `ConditionalRequestConflict`: another conditional write was under way).
        """
        body = json.dumps(value, separators=(",", ":")).encode()
        extra: dict[str, Any] = {**self._owner, **self._sse, "ContentType": "application/json"}
        if absent:
            extra["IfNoneMatch"] = "*"
        if etag is not None:
            extra["IfMatch"] = etag
        with aws_call("PutObject", bucket=self.bucket, key=key):
            return self._s3.put_object(Bucket=self.bucket, Key=key, Body=body, **extra)["ETag"]

    def put_resource(self, index: int, name: str, data: bytes) -> str:
        """Store extra bytes under job `index`'s prefix.

        Args:
            index: the job's index.
            name: a relative key under the job's prefix (no `..`, no leading `/`).
            data: the bytes.

        Returns:
            Their `s3://` URI.

        Raises:
            InvalidJobSpecError: `name` would leave the job's prefix.
        """
        key = self.layout.resource_key(index, name)
        self._put(key, data)
        return self.uri(key)

    def get_resource(self, index: int, name: str) -> bytes:
        """Read resource `name` that job `index` (or `put_resource`) stored under its prefix.

        Args:
            index: the job's index.
            name: the resource's key relative to the job's prefix.

        Returns:
            Its bytes.

        Raises:
            InvalidJobSpecError: `name` would leave the job's prefix.
            OutputNotFoundError: there is no such object.
        """
        return self._get(self.layout.resource_key(index, name))

    def _put(self, key: str, body: bytes, *, content_type: str | None = None) -> None:
        if len(body) > MAX_SINGLE_PUT_BYTES:
            raise InvalidJobSpecError(
                f"{self.uri(key)} would be {len(body)} bytes; one PutObject uploads at most "
                f"{MAX_SINGLE_PUT_BYTES}",
                field="size",
            )
        extra: dict[str, Any] = {**self._owner, **self._sse}
        if content_type:
            extra["ContentType"] = content_type
        with aws_call("PutObject", bucket=self.bucket, key=key):
            self._s3.put_object(Bucket=self.bucket, Key=key, Body=body, **extra)

    def _get(
        self, key: str, *, job_id: str | None = None, byte_range: tuple[int, int] | None = None
    ) -> bytes:
        extra: dict[str, Any] = dict(self._owner)
        if byte_range is not None:
            extra["Range"] = f"bytes={byte_range[0]}-{byte_range[1]}"
        try:
            with aws_call("GetObject", bucket=self.bucket, key=key, job_id=job_id):
                return self._s3.get_object(Bucket=self.bucket, Key=key, **extra)["Body"].read()
        except AwsError as err:
            if err.code in NO_SUCH_KEY_ERROR_CODES:
                raise OutputNotFoundError(
                    f"no object at {self.uri(key)}", key=key, job_id=job_id
                ) from err
            raise


def _chain(*parts: Iterable[bytes]) -> Iterator[bytes]:
    for part in parts:
        yield from part


def _parts(chunks: Iterable[bytes], part_size: int) -> Iterator[bytes]:
    """`chunks` cut into bodies of `part_size` bytes (the last one shorter)."""
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        while len(buffer) >= part_size:
            yield bytes(memoryview(buffer)[:part_size])
            del buffer[:part_size]
    if buffer:
        yield bytes(buffer)


def _server_time(page: Any) -> datetime | None:
    """The `Date` header of one S3 answer, if it has a readable one."""
    date = page.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    if not date:
        return None
    try:
        return parsedate_to_datetime(date)
    except (TypeError, ValueError):
        return None
