"""An S3 client of the standard library for test workers: GetObject and PutObject, SigV4-signed.

Workers whose tests are about what happens around a job (signals, reruns, exits, typed I/O, a
killed submitter, the `pcr` tests' usual job) hand it to `pcr_sdk.worker.run(handler,
s3=light_s3())`: their job processes then never import boto3, about half a second of CPU less
each (the suite starts some hundred of them). The examples' and the docs' workers, `pcr demo`'s
and `workers/local_sdk_worker.py` keep boto3's default client. It reaches
the endpoint in `AWS_ENDPOINT_URL` with the keys in the environment, path-style, as any AWS SDK
may: a SigV4 signer written from AWS's specification, not botocore's, that the local backend's
verification must accept all the same. A refused request raises botocore's `ClientError` (a
cheap import), which `pcr_sdk.worker` maps as it maps boto3's. A worker script puts the
checkout on `sys.path` to import it.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import io
import os
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote, urlsplit

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_ALGORITHM = "AWS4-HMAC-SHA256"
_CODE = re.compile(rb"<Code>([^<]*)</Code>")


class LightS3:
    """GetObject and PutObject on one S3 endpoint, with one set of keys."""

    def __init__(
        self, endpoint: str, region: str, key_id: str, secret: str, token: str | None = None
    ) -> None:
        parts = urlsplit(endpoint)
        self._https = parts.scheme == "https"
        self._host = parts.netloc
        self._region = region
        self._key_id = key_id
        self._secret = secret
        self._token = token

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> LightS3:
        """The endpoint, region and keys a job of the local backend is given."""
        return cls(
            env.get("AWS_ENDPOINT_URL_S3") or env["AWS_ENDPOINT_URL"],
            env.get("AWS_REGION") or env["AWS_DEFAULT_REGION"],
            env["AWS_ACCESS_KEY_ID"],
            env["AWS_SECRET_ACCESS_KEY"],
            env.get("AWS_SESSION_TOKEN"),
        )

    def get_object(self, *, Bucket: str, Key: str, Range: str | None = None) -> dict[str, Any]:
        """The object (`Range`: some of its bytes) as `{"Body": <a readable stream>}`."""
        extra = {"range": Range} if Range else {}
        return {"Body": io.BytesIO(self._send("GET", Bucket, Key, b"", extra, "GetObject"))}

    def put_object(
        self,
        *,
        Bucket: str,
        Key: str,
        Body: bytes | str,
        ContentType: str | None = None,
    ) -> dict[str, Any]:
        """Write the object."""
        data = Body.encode() if isinstance(Body, str) else Body
        extra = {"content-type": ContentType} if ContentType else {}
        self._send("PUT", Bucket, Key, data, extra, "PutObject")
        return {}

    def _send(
        self,
        method: str,
        bucket: str,
        key: str,
        body: bytes,
        extra: dict[str, str],
        operation: str,
    ) -> bytes:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        path = f"/{quote(bucket, safe='')}/{quote(key, safe='/~')}"
        payload = hashlib.sha256(body).hexdigest()
        headers = {"host": self._host, "x-amz-content-sha256": payload, "x-amz-date": stamp}
        headers.update(extra)
        if self._token:
            headers["x-amz-security-token"] = self._token
        names = sorted(headers)
        signed = ";".join(names)
        canonical = "\n".join(
            [method, path, "", *(f"{n}:{headers[n].strip()}" for n in names), "", signed, payload]
        )
        scope = f"{stamp[:8]}/{self._region}/s3/aws4_request"
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        to_sign = f"{_ALGORITHM}\n{stamp}\n{scope}\n{digest}"
        secret = f"AWS4{self._secret}".encode()
        for part in (stamp[:8], self._region, "s3", "aws4_request"):
            secret = hmac.new(secret, part.encode(), hashlib.sha256).digest()
        signature = hmac.new(secret, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["authorization"] = (
            f"{_ALGORITHM} Credential={self._key_id}/{scope}, "
            f"SignedHeaders={signed}, Signature={signature}"
        )
        connection_class = (
            http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        )
        connection = connection_class(self._host, timeout=60)
        try:
            connection.request(
                method, path, body=body if method == "PUT" else None, headers=headers
            )
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        if response.status >= 300:
            found = _CODE.search(data)
            code = found.group(1).decode() if found else str(response.status)
            message = data.decode(errors="replace")[:500]
            raise ClientError(
                {
                    "Error": {"Code": code, "Message": message},
                    "ResponseMetadata": {
                        "HTTPStatusCode": response.status,
                        "HTTPHeaders": dict(response.getheaders()),
                        "RequestId": response.getheader("x-amz-request-id", ""),
                        "HostId": "",
                        "RetryAttempts": 0,
                    },
                },
                operation,
            )
        return data


def light_s3() -> S3Client:
    """A `LightS3` from the environment, typed as what `pcr_sdk.worker.run` takes."""
    return cast("S3Client", LightS3.from_env())
