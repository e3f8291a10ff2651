"""Find a batch's jobs in AWS Batch again, from the job name and tags every job is submitted with.

Every job of batch B is named B and tagged `pcr:index` (a rerun also `pcr:attempt`), so a new
process can rebuild the list while AWS Batch still shows the jobs (about a day after they
finish). A rerun of array children (an array with an index table) carries no `pcr:index`: its
children's indexes are read from the table in its packed inputs, through `read_table`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Container, Sequence
from typing import TYPE_CHECKING

from pcr_sdk._private.edge.mapping import aws_call
from pcr_sdk._private.errors import PcrError
from pcr_sdk._private.model.results import JobState, SubmittedJob, job_state
from pcr_sdk._private.wire.facts import TAG_ATTEMPT, TAG_INDEX
from pcr_sdk._private.wire.layout import (
    ENV_ARRAY_INPUTS_KEY,
    ENV_BUCKET,
    ENV_PREFIX,
    ENV_WORKER_CONTRACT,
    INDEXED_ARRAY_CONTRACT,
)
from pcr_sdk._private.wire.packing import read_table, table_range

if TYPE_CHECKING:
    from mypy_boto3_batch.type_defs import JobDetailTypeDef
    from mypy_boto3_s3 import S3Client

    from pcr_sdk._private.edge.reads import BatchReads

logger = logging.getLogger(__name__)

TableReader = Callable[[str, str, int], Sequence[int]]
"""(bucket, packed inputs key, size) -> the job index of each child of an indexed array."""
Found = list[tuple[SubmittedJob, JobState | None]]


def s3_table_reader(s3: S3Client) -> TableReader:
    """Read an indexed array's table with one ranged GET through `s3`."""

    def read(bucket: str, key: str, size: int) -> Sequence[int]:
        first, last = table_range(size)
        with aws_call("GetObject", bucket=bucket, key=key):
            body = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={first}-{last}")["Body"]
            return read_table(body.read(), size)

    return read


def _environment(detail: JobDetailTypeDef) -> dict[str, str]:
    pairs = detail.get("container", {}).get("environment", [])
    return {pair["name"]: pair.get("value", "") for pair in pairs if "name" in pair}


def index_of(detail: JobDetailTypeDef) -> int | None:
    """The job's index in its batch: its `pcr:index` tag, else its S3 prefix's last part."""
    tag = detail.get("tags", {}).get(TAG_INDEX)
    if tag is not None and tag.isdigit():
        return int(tag)
    tail = _environment(detail).get(ENV_PREFIX, "").rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


def attempt_of(detail: JobDetailTypeDef) -> int:
    """The job's attempt: its `pcr:attempt` tag (a rerun), else 1."""
    tag = detail.get("tags", {}).get(TAG_ATTEMPT, "")
    return int(tag) if tag.isdigit() and int(tag) >= 1 else 1


def _table(
    detail: JobDetailTypeDef, size: int, read: TableReader | None, batch_id: str
) -> Sequence[int] | None:
    """The index table of an indexed array, or None (logged) if it cannot be read."""
    env = _environment(detail)
    if read is None:
        logger.warning("array %s of %s has an index table, not read here; skipped",
                       detail["jobId"], batch_id)  # fmt: skip
        return None
    try:
        table = read(env.get(ENV_BUCKET, ""), env.get(ENV_ARRAY_INPUTS_KEY, ""), size)
    except PcrError as err:
        logger.warning("array %s of %s: its index table cannot be read (%s); skipped",
                       detail["jobId"], batch_id, err)  # fmt: skip
        return None
    return table


def _indexed(detail: JobDetailTypeDef) -> bool:
    contract = _environment(detail).get(ENV_WORKER_CONTRACT, "")
    return contract.isdigit() and int(contract) >= INDEXED_ARRAY_CONTRACT


def scan_batch_jobs(
    reads: BatchReads,
    *,
    job_queue: str,
    batch_id: str,
    read_table: TableReader | None = None,
    known: Container[str] | None = None,
) -> Found:
    """Every job of `batch_id` AWS Batch shows in `job_queue` (every attempt), by index then
    attempt, with its state where known (listing order, newest first, among equals).

    An array job stands for its children `<id>:<i>`; their states are left to the poller or
    bulk results, which learn them through the parent. With `known` (the ids of jobs and array
    parents known already) only the jobs newer than those are looked for (`BatchReads.named`).
    """
    found: Found = []
    for details in reads.named(job_queue, batch_id, known=known):
        for detail in details:
            attempt, parent = attempt_of(detail), detail["jobId"]
            deps = tuple(d["jobId"] for d in detail.get("dependsOn", []) if "jobId" in d)
            size = detail.get("arrayProperties", {}).get("size")
            if size and _indexed(detail):
                table = _table(detail, size, read_table, batch_id)
                found += [
                    (SubmittedJob(f"{parent}:{i}", index, deps, parent, attempt), None)
                    for i, index in enumerate(table or ())
                ]
                continue
            index = index_of(detail)
            if index is None:
                logger.warning("job %s of %s carries no index; skipped", parent, batch_id)
                continue
            if size:
                found += [
                    (SubmittedJob(f"{parent}:{i}", index + i, deps, parent, attempt), None)
                    for i in range(size)
                ]
                continue
            job = SubmittedJob(parent, index, deps, attempt=attempt)
            found.append((job, job_state(detail)))
    return sorted(found, key=lambda pair: (pair[0].index, pair[0].attempt))


def find_batch_jobs(
    reads: BatchReads, *, job_queue: str, batch_id: str, read_table: TableReader | None = None
) -> Found:
    """Each index's current job of `batch_id` in `job_queue` (its highest attempt), in index
    order, with its state where known."""
    current: dict[int, tuple[SubmittedJob, JobState | None]] = {}
    for job, state in scan_batch_jobs(reads, job_queue=job_queue, batch_id=batch_id,
                                      read_table=read_table):  # fmt: skip
        known = current.get(job.index)
        if known is None or known[0].attempt < job.attempt:
            current[job.index] = (job, state)
        elif known[0].attempt == job.attempt:
            logger.warning("index %d of %s appears twice: %s", job.index, batch_id, job.job_id)
    return [current[i] for i in sorted(current)]
