"""InputStore: the job bucket's objects, in the layout of the original system."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from pcr_sdk._private.contract import BatchLayout
from pcr_sdk._private.errors import (
    OutputMalformedError,
    OutputNotFoundError,
    aws_call,
    map_client_error,
)
from pcr_sdk._private.models import JobSpec
from pcr_sdk._private.packing import pack

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


class InputStore:
    """Reads and writes one batch's objects: config.json in, output.json out, extra resources."""

    def __init__(self, s3: S3Client, bucket: str, layout: BatchLayout) -> None:
        self._s3 = s3
        self.bucket = bucket
        self.layout = layout

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def put_input(self, index: int, spec: JobSpec) -> str:
        """Write job `index`'s config.json; return its key."""
        key = self.layout.config_key(index)
        self._put(key, spec.input_json.encode(), content_type="application/json")
        return key

    def put_packed_inputs(self, base_index: int, specs: Sequence[JobSpec]) -> str:
        """Write the inputs of an array job as one packed object; return its key."""
        key = self.layout.array_inputs_key(base_index)
        self._put(key, pack([spec.input_json.encode() for spec in specs]))
        return key

    def get_input(self, index: int) -> Any:
        """Read back job `index`'s input."""
        return json.loads(self._get(self.layout.config_key(index)))

    def get_output_text(self, index: int, *, job_id: str | None = None) -> str:
        """output.json as text; raises OutputNotFoundError or OutputMalformedError."""
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
        """output.json parsed; `OutputMalformedError` if it is not JSON."""
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

    def put_resource(self, index: int, name: str, data: bytes) -> str:
        """Store extra bytes under job `index`'s prefix; return their s3:// URI."""
        key = self.layout.resource_key(index, name)
        self._put(key, data)
        return self.uri(key)

    def get_resource(self, index: int, name: str) -> bytes:
        return self._get(self.layout.resource_key(index, name))

    def _put(self, key: str, body: bytes, *, content_type: str | None = None) -> None:
        with aws_call("PutObject", bucket=self.bucket, key=key):
            if content_type:
                self._s3.put_object(
                    Bucket=self.bucket, Key=key, Body=body, ContentType=content_type
                )
            else:
                self._s3.put_object(Bucket=self.bucket, Key=key, Body=body)

    def _get(self, key: str, *, job_id: str | None = None) -> bytes:
        try:
            return self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in _MISSING_CODES:
                raise OutputNotFoundError(
                    f"no object at {self.uri(key)}", key=key, job_id=job_id
                ) from err
            raise map_client_error(
                err, operation="GetObject", bucket=self.bucket, key=key, job_id=job_id
            ) from err
