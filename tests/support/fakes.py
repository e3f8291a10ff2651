"""Hand-made doubles for unit tests that need no AWS at all: a clock and a scripted Batch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

from botocore.config import Config
from botocore.hooks import HierarchicalEmitter
from botocore.model import ServiceId

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient

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
