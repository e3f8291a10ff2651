"""Hand-made doubles for unit tests that need no AWS at all: a clock, a scripted Batch, clients
that refuse to send, a ledger's journal in a list, a manifest's store in a dict."""

from __future__ import annotations

import functools
import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Final, NoReturn, cast

import boto3
from botocore.awsrequest import AWSPreparedRequest
from botocore.config import Config
from botocore.hooks import HierarchicalEmitter
from botocore.model import ServiceId
from botocore.response import StreamingBody

from pcr_sdk import AwsClients, AwsError, BatchLayout, SubmittedJob
from pcr_sdk.advanced import Listing, StoredObject

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient

    from pcr_sdk._private.batch.manifest import ArrayRecord
    from pcr_sdk._private.services.store import InputStore

ORDER = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")


class FakeClock:
    """A clock that only moves when `sleep` is called; records every sleep."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


def fake_meta(service: str = "Batch") -> SimpleNamespace:
    """What pcr-sdk reads of a client's `meta`: its events, service, region and retries."""
    return SimpleNamespace(
        events=HierarchicalEmitter(),
        service_model=SimpleNamespace(service_id=ServiceId(service)),
        region_name="eu-central-1",
        endpoint_url="https://batch.fake.invalid",
        config=Config(retries={"mode": "standard", "total_max_attempts": 3}),
    )


class FakeBatch:
    """Answers describe_jobs from a script: job -> polls until finished, and its final status."""

    def __init__(
        self,
        clock: FakeClock,
        polls: Mapping[str, int],
        failed: Sequence[str] = (),
        forget: Sequence[str] = (),
    ) -> None:
        self.meta = fake_meta()
        self.clock = clock
        self.polls = dict(polls)
        self.failed = set(failed)
        self.forget = set(forget)
        self.seen: dict[str, int] = {}
        self.calls: list[tuple[float, list[str]]] = []
        self.reported_finished: list[set[str]] = []  # per call: ids the response called finished

    def describe_jobs(self, *, jobs: list[str]) -> dict[str, Any]:
        assert len(jobs) <= 100, "DescribeJobs takes at most 100 ids"
        self.calls.append((self.clock(), list(jobs)))
        details = []
        for job_id in jobs:
            if job_id in self.forget:
                continue
            n = self.seen[job_id] = self.seen.get(job_id, 0) + 1
            if n > self.polls[job_id]:
                status = "FAILED" if job_id in self.failed else "SUCCEEDED"
            else:
                status = ORDER[min(n - 1, len(ORDER) - 1)]
            detail: dict[str, Any] = {
                "jobId": job_id,
                "jobName": "n",
                "jobQueue": "q",
                "status": status,
                "startedAt": 0,
                "jobDefinition": "d",
            }
            if status == "FAILED":
                detail["statusReason"] = "Essential container in task exited"
                detail["attempts"] = [{"container": {"exitCode": 3, "logStreamName": "s"}}]
            details.append(detail)
        self.reported_finished.append(
            {d["jobId"] for d in details if d["status"] in ("SUCCEEDED", "FAILED")}
        )
        return {"jobs": details, "ResponseMetadata": {}}

    def as_client(self) -> BatchClient:
        return cast("BatchClient", self)


class RequestSent(AssertionError):
    """A request left a `NoCalls` client: the code under test made a network call."""


@functools.cache
def offline_session(region: str = "eu-central-1") -> boto3.Session:
    """One boto3 session per region with dummy credentials, shared by the unit tests: its
    service models load once per process (a new session takes a second to build clients)."""
    return boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
    )


@functools.cache
def _offline_clients(region: str) -> AwsClients:
    clients = AwsClients.from_session(offline_session(region), region_name=region)
    for client in (clients.batch, clients.s3, clients.logs):
        client.meta.events.register_first("before-send", _refuse)
    return clients


_recorders: list[list[str]] = [[]]
"""Where a refused request is recorded: the `sent` of the newest `NoCalls` (tests run one at a
time in a process)."""


def _refuse(request: AWSPreparedRequest, **_: object) -> NoReturn:
    _recorders[-1].append(f"{request.method} {request.url}")
    raise RequestSent(f"a request was sent: {request.method} {request.url}")


class NoCalls:
    """Real boto3 clients that never send: botocore's `before-send` raises `RequestSent`, so a
    test proves that a call was refused before any request, with no AWS double at all.

    The clients are shared by every `NoCalls` of a region (building clients takes time); a
    request is recorded in the newest one's `sent`.
    """

    def __init__(self, region: str = "eu-central-1") -> None:
        self.clients = _offline_clients(region)
        self.sent: list[str] = []
        """Every request the clients tried to send (`METHOD url`)."""
        _recorders[:] = [self.sent]


class ListJournal:
    """A ledger's journal in a list (the `Journal` protocol): what the manifest would write."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, object]] = []
        """Every call in order: ("add", job), ("add_array", array), ("flush", None),
        ("reserve", reserved_to), ("reserve_attempt", attempt)."""

    def add(self, job: SubmittedJob) -> None:
        self.entries.append(("add", job))

    def add_array(self, array: ArrayRecord) -> None:
        self.entries.append(("add_array", array))

    def flush(self) -> None:
        self.entries.append(("flush", None))

    def reserve(self, reserved_to: int) -> None:
        self.entries.append(("reserve", reserved_to))

    def reserve_attempt(self, attempt: int) -> None:
        self.entries.append(("reserve_attempt", attempt))

    def of(self, kind: str) -> list[object]:
        """The arguments of every call of one kind, in order."""
        return [value for name, value in self.entries if name == kind]


def body(data: bytes) -> StreamingBody:
    """An S3 GetObject `Body` for a stubbed answer."""
    return StreamingBody(io.BytesIO(data), len(data))


WRITTEN: Final = datetime(2026, 1, 1, tzinfo=timezone.utc)
"""When `MemoryStore` says its objects were written, by S3's clock."""


class MemoryStore:
    """The part of `InputStore` the manifest, the sessions and the rerun lease use, in a dict:
    key -> bytes (S3's clock is `now`, set by the test)."""

    def __init__(self, layout: BatchLayout, *, failing: bool = False) -> None:
        self.layout = layout
        self.objects: dict[str, bytes] = {}
        self.failing = failing
        """While True, every write raises `AwsError` (S3 refused it)."""
        self.now = WRITTEN
        """S3's clock: the LastModified of what is written now, and a listing's server time."""
        self.written: dict[str, datetime] = {}
        """Each key's LastModified (`WRITTEN` for an object put in `objects` directly)."""

    def put_json(self, key: str, value: object) -> None:
        if self.failing:
            raise AwsError("PutObject failed", operation="PutObject")
        self.objects[key] = json.dumps(value).encode()
        self.written[key] = self.now

    def put_json_if(
        self, key: str, value: object, *, absent: bool = False, etag: str | None = None
    ) -> str:
        """`InputStore.put_json_if`: written only if `key` is absent (`absent`) or still has
        ETag `etag`, else `AwsError` code PreconditionFailed (S3's 412; an If-Match on a
        missing key is S3's 404 NoSuchKey); the new ETag (the MD5 of the bytes, as S3's)."""
        if self.failing:
            raise AwsError("PutObject failed", operation="PutObject")
        current = self.objects.get(key)
        if etag is not None and current is None:
            raise AwsError("PutObject failed (NoSuchKey)", operation="PutObject",
                           code="NoSuchKey", key=key)  # fmt: skip
        if (absent and current is not None) or (
            etag is not None and current is not None and _etag(current) != etag
        ):
            raise AwsError("PutObject failed (PreconditionFailed)", operation="PutObject",
                           code="PreconditionFailed", key=key)  # fmt: skip
        data = json.dumps(value, separators=(",", ":")).encode()
        self.objects[key] = data
        self.written[key] = self.now
        return _etag(data)

    def list_objects(self, prefix: str) -> list[tuple[str, int]]:
        return sorted((k, len(v)) for k, v in self.objects.items() if k.startswith(prefix))

    def get_bytes(self, key: str, *, max_bytes: int | None = None) -> bytes:
        data = self.objects[key]
        return data if max_bytes is None else data[: max_bytes + 1]

    def list_detailed(self, prefix: str) -> Listing:
        """The objects under `prefix`, each with its LastModified and an ETag from its bytes,
        and `now` as S3's clock."""
        objects = tuple(
            StoredObject(key, len(data), self.written.get(key, WRITTEN), _etag(data))
            for key, data in sorted(self.objects.items())
            if key.startswith(prefix)
        )
        return Listing(objects, self.now)

    def store(self) -> InputStore:
        return cast("InputStore", self)


def _etag(data: bytes) -> str:
    """S3's ETag of a single-part upload without KMS: the quoted MD5 of its bytes."""
    return f'"{hashlib.md5(data).hexdigest()}"'
