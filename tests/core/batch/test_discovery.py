"""Discovery: the jobs only AWS Batch knows, read from ListJobs and DescribeJobs (every attempt,
arrays as their children), with a fake `BatchReads` that yields pages of job details."""

from __future__ import annotations

import logging
from collections.abc import Container, Iterator, Sequence
from typing import Any, cast

import pytest

from pcr_sdk import BatchLayout, JobStatus, SubmittedJob, WorkerContractError
from pcr_sdk._private.batch.discovery import find_batch_jobs, scan_batch_jobs
from pcr_sdk._private.edge.reads import BatchReads
from pcr_sdk._private.wire.facts import TAG_ATTEMPT, TAG_INDEX

LAYOUT = BatchLayout("b_1")


class Pages:
    """`BatchReads.named`, answering from pages of details given up front."""

    def __init__(self, *pages: list[dict[str, Any]]) -> None:
        self.pages = pages

    def named(
        self, job_queue: str, job_name: str, *, known: Container[str] | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        assert (job_queue, job_name, known) == ("q", "b_1", None)
        yield from self.pages

    def reads(self) -> BatchReads:
        return cast("BatchReads", self)


def job(job_id: str, status: str = "SUCCEEDED", *, tags: dict[str, str] | None = None,
        environment: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:  # fmt: skip
    env = [{"name": k, "value": v} for k, v in (environment or {}).items()]
    return {"jobId": job_id, "jobName": "b_1", "status": status, "tags": tags or {},
            "container": {"environment": env}, **extra}  # fmt: skip


def test_every_attempt_and_every_array_child_is_found_by_index_then_attempt() -> None:
    indexed_env = LAYOUT.indexed_array_environment(bucket="bkt", inputs_key="k.pack")
    pages = Pages(
        [
            job("rerun", tags={TAG_INDEX: "0", TAG_ATTEMPT: "2"}, dependsOn=[{"jobId": "x"}]),
            job("arr", "RUNNING", tags={TAG_INDEX: "1"}, arrayProperties={"size": 3}),
        ],
        [
            job("first", "FAILED", environment=LAYOUT.environment(bucket="bkt", index=0)),
            job(
                "again",
                tags={TAG_ATTEMPT: "3"},
                environment=indexed_env,
                arrayProperties={"size": 2},
            ),
        ],
    )
    tables: list[tuple[str, str, int]] = []

    def read_table(bucket: str, key: str, size: int) -> Sequence[int]:
        tables.append((bucket, key, size))
        return [2, 9]

    found = scan_batch_jobs(pages.reads(), job_queue="q", batch_id="b_1", read_table=read_table)
    assert [job for job, _ in found] == [
        SubmittedJob("first", 0),  # its index from its S3 prefix: no tag
        SubmittedJob("rerun", 0, ("x",), attempt=2),
        SubmittedJob("arr:0", 1, (), "arr"),
        SubmittedJob("arr:1", 2, (), "arr"),
        SubmittedJob("again:0", 2, (), "again", 3),
        SubmittedJob("arr:2", 3, (), "arr"),
        SubmittedJob("again:1", 9, (), "again", 3),
    ]
    states = {job.job_id: state for job, state in found}
    assert states["first"] is not None
    assert states["first"].status is JobStatus.FAILED
    assert states["arr:0"] is None  # children are learned through their parent
    assert tables == [("bkt", "k.pack", 2)]
    current = find_batch_jobs(pages.reads(), job_queue="q", batch_id="b_1", read_table=read_table)
    assert [(job.job_id, job.index) for job, _ in current] == [
        ("rerun", 0), ("arr:0", 1), ("again:0", 2), ("arr:2", 3), ("again:1", 9),
    ]  # fmt: skip


def test_what_cannot_be_placed_is_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    indexed_env = LAYOUT.indexed_array_environment(bucket="bkt", inputs_key="k.pack")

    def unreadable(bucket: str, key: str, size: int) -> Sequence[int]:
        raise WorkerContractError("no table", required="2", supported=2)

    pages = Pages([job("stray"), job("again", environment=indexed_env,
                                     arrayProperties={"size": 2})])  # fmt: skip
    with caplog.at_level(logging.WARNING):
        assert scan_batch_jobs(pages.reads(), job_queue="q", batch_id="b_1") == []
        assert scan_batch_jobs(pages.reads(), job_queue="q", batch_id="b_1",
                               read_table=unreadable) == []  # fmt: skip
    assert "stray of b_1 carries no index" in caplog.text
    assert "not read here" in caplog.text
    assert "cannot be read" in caplog.text
