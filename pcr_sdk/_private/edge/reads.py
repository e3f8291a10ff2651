"""Governed AWS Batch reads: DescribeJobs 100 ids a call, ListJobs page by page.

Everything pcr-sdk reads from AWS Batch about jobs goes through `BatchReads`: the poller, the
lost-answer lookup, reattach, bulk results, the read-only view and the maintenance commands.
Each request waits for the governor first and counts as pcr-sdk's own call (its throttling
slows the governor down).
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from pcr_sdk._private.edge import hooks as calls
from pcr_sdk._private.edge.mapping import aws_call
from pcr_sdk._private.wire.facts import DESCRIBE_JOBS_MAX_IDS

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_batch.type_defs import JobDetailTypeDef, JobSummaryTypeDef

    from pcr_sdk._private.edge.hooks import ThrottleListener


class BatchReads:
    """DescribeJobs and ListJobs through one admission function (governor, spacing)."""

    def __init__(
        self,
        batch: BatchClient,
        *,
        acquire: Callable[[], object] = lambda: None,
        throttle_listener: ThrottleListener | None = None,
    ) -> None:
        self.batch = batch
        self._acquire = acquire
        self._listener = throttle_listener
        calls.install(batch)

    def describe(self, job_ids: Sequence[str]) -> list[JobDetailTypeDef]:
        """DescribeJobs for `job_ids`, at most 100 a call; ids AWS does not know are left out."""
        details: list[JobDetailTypeDef] = []
        ids = list(dict.fromkeys(job_ids))
        for start in range(0, len(ids), DESCRIBE_JOBS_MAX_IDS):
            chunk = ids[start : start + DESCRIBE_JOBS_MAX_IDS]
            self._acquire()
            with calls.scope(throttle_listener=self._listener), aws_call("DescribeJobs"):
                details += self.batch.describe_jobs(jobs=chunk)["jobs"]
        return details

    def pages(self, **params: Any) -> Iterator[list[JobSummaryTypeDef]]:
        """ListJobs with `params`, one governed request per page."""
        where = params.get("jobQueue")
        pages = iter(self.batch.get_paginator("list_jobs").paginate(**params))
        while True:
            self._acquire()
            with (
                calls.scope(throttle_listener=self._listener),
                aws_call("ListJobs", job_queue=where, job_id=params.get("arrayJobId")),
            ):
                page = next(pages, None)
            if page is None:
                return
            yield list(page["jobSummaryList"])

    def named(
        self, job_queue: str, job_name: str, *, known: Container[str] | None = None
    ) -> Iterator[list[JobDetailTypeDef]]:
        """The details of the jobs named `job_name` in `job_queue`, one ListJobs page at a time.

        AWS lists filtered results newest first, so a caller looking for a recent job can stop
        at the first page that has it. Array children (`<parent>:<i>`, listed by some
        backends) are left out: they are found through their parent. With `known`, only the
        jobs not in it are described, and the listing stops at the first page without any
        (the jobs that came since `known` was complete are newer, so on earlier pages).
        """
        filters = [{"name": "JOB_NAME", "values": [job_name]}]
        for page in self.pages(jobQueue=job_queue, filters=filters):
            ids = [s["jobId"] for s in page if s["jobName"] == job_name and ":" not in s["jobId"]]
            if known is not None:
                ids = [job_id for job_id in ids if job_id not in known]
                if not ids:
                    return
            if ids:
                yield self.describe(ids)
