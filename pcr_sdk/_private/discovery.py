"""Find a batch's jobs in AWS Batch again, from the job name and tags every job is submitted with.

Every job of batch B is named B and tagged `pcr:index`, so a new process can rebuild the list
while AWS Batch still shows the jobs (about a day after they finish).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pcr_sdk._private.aws import TAG_INDEX
from pcr_sdk._private.contract import ENV_PREFIX
from pcr_sdk._private.models import JobState, SubmittedJob
from pcr_sdk._private.poller import job_state

if TYPE_CHECKING:
    from mypy_boto3_batch.type_defs import JobDetailTypeDef

    from pcr_sdk._private.scan import BatchReads

logger = logging.getLogger(__name__)


def index_of(detail: JobDetailTypeDef) -> int | None:
    """The job's index in its batch: its `pcr:index` tag, else its S3 prefix's last part."""
    tag = detail.get("tags", {}).get(TAG_INDEX)
    if tag is not None and tag.isdigit():
        return int(tag)
    for pair in detail.get("container", {}).get("environment", []):
        if pair.get("name") == ENV_PREFIX:
            tail = pair.get("value", "").rsplit("/", 1)[-1]
            if tail.isdigit():
                return int(tail)
    return None


def find_batch_jobs(
    reads: BatchReads, *, job_queue: str, batch_id: str
) -> list[tuple[SubmittedJob, JobState | None]]:
    """Every job of `batch_id` in `job_queue`, in index order, with its state where known.

    An array job stands for its children `<id>:<i>` (jobs base + i); their states are left to
    the poller or bulk results, which learn them through the parent.
    """
    found: dict[int, tuple[SubmittedJob, JobState | None]] = {}
    for details in reads.named(job_queue, batch_id):
        for detail in details:
            index = index_of(detail)
            if index is None:
                logger.warning("job %s of %s carries no index; skipped", detail["jobId"], batch_id)
                continue
            deps = tuple(d["jobId"] for d in detail.get("dependsOn", []) if "jobId" in d)
            size = detail.get("arrayProperties", {}).get("size")
            if size:
                parent = detail["jobId"]
                for i in range(size):
                    child = SubmittedJob(f"{parent}:{i}", index + i, deps, array_id=parent)
                    found.setdefault(index + i, (child, None))
                continue
            job = SubmittedJob(job_id=detail["jobId"], index=index, depends_on=deps)
            if index in found:
                logger.warning("index %d of %s appears twice: %s", index, batch_id, job.job_id)
            found.setdefault(index, (job, job_state(detail)))
    return [found[i] for i in sorted(found)]
