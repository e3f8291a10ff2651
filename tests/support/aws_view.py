"""What the fault tests share: the simulated worker, and AWS's own view of a batch's jobs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from moto.core.utils import utcnow
from moto.s3.models import s3_backends

from pcr_sdk import JobSubmitter, SubmittedJob
from pcr_sdk._private.model.settings import STALE_AFTER_SECONDS
from pcr_sdk._private.wire.facts import TAG_ATTEMPT
from pcr_sdk._private.wire.layout import ENV_ARRAY_INPUTS_KEY, ENV_BUCKET
from pcr_sdk._private.wire.packing import unpack_indexed
from pcr_sdk.testing import JobView, MotoWorld
from tests.support.sharing import stored_object

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_s3 import S3Client

ACCOUNT = "123456789012"  # moto's default account


def work(data: Any) -> dict[str, int]:
    """The simulated container: fails when asked to, else answers with its input's number."""
    if data["fail"]:
        raise ValueError(f"job n={data['n']} was asked to fail")
    return expected_output(int(data["n"]))


def expected_output(n: int) -> dict[str, int]:
    return {"n": n, "sq": n * n}


def parent_of(job_id: str) -> str:
    return job_id.rsplit(":", 1)[0]


def batch_jobs(views: Iterable[JobView], batch_id: str) -> dict[str, JobView]:
    """Every job of `batch_id` that AWS Batch accepted: plain jobs and array children.

    An array counts through its parent: the parent itself is no job of the batch, each of its
    children `<parent>:<i>` is.
    """
    mine = [view for view in views if view.job_name == batch_id]
    parents = {parent_of(view.job_id) for view in mine if ":" in view.job_id}
    missing = parents - {view.job_id for view in mine}
    assert not missing, f"array children without a parent: {missing}"
    return {view.job_id: view for view in mine if view.job_id not in parents}


@dataclass(frozen=True)
class Reconciliation:
    """How one JobSubmitter's job list compares with what AWS Batch has for the batch."""

    lost: frozenset[str]
    """In AWS Batch, unknown to the submitter."""
    phantoms: frozenset[str]
    """Known to the submitter, not in AWS Batch."""
    duplicates: int
    """Indexes held by more than one AWS job, plus indexes the submitter gives two jobs."""
    wrong_index: dict[str, tuple[int, int | None]]
    """job id -> (the submitter's index, AWS's index) where they differ."""

    @property
    def exact(self) -> bool:
        return not (self.lost or self.phantoms or self.duplicates or self.wrong_index)


def indexes(views: Mapping[str, JobView]) -> dict[str, int | None]:
    """job id -> its index in the batch, as AWS Batch shows it."""
    return {job_id: view.index for job_id, view in views.items()}


def reconcile(known: Iterable[SubmittedJob], aws: Mapping[str, int | None]) -> Reconciliation:
    """Compare a submitter's `jobs` with AWS's jobs of the batch: job id -> index."""
    jobs = list(known)
    by_id = {job.job_id: job for job in jobs}
    aws_indexes = Counter(aws.values())
    known_indexes = Counter(job.index for job in jobs)
    duplicates = sum(n - 1 for n in aws_indexes.values() if n > 1)
    duplicates += sum(n - 1 for n in known_indexes.values() if n > 1)
    duplicates += len(jobs) - len(by_id)
    return Reconciliation(
        lost=frozenset(set(aws) - set(by_id)),
        phantoms=frozenset(set(by_id) - set(aws)),
        duplicates=duplicates,
        wrong_index={
            job_id: (job.index, aws[job_id])
            for job_id, job in by_id.items()
            if job_id in aws and aws[job_id] != job.index
        },
    )


@dataclass(frozen=True)
class AwsJob:
    """A job of the batch as AWS Batch has it: its index and its attempt (`pcr:attempt`)."""

    job_id: str
    index: int | None
    attempt: int


class AwsFacts:
    """Reads the tags and index tables of a batch's jobs from AWS itself, through clients that
    see no faults; ListTagsForResource and S3 do not move the scripted jobs. Cached per job."""

    def __init__(self, batch: BatchClient, s3: S3Client, region: str) -> None:
        self._batch = batch
        self._s3 = s3
        self._region = region
        self._attempts: dict[str, int] = {}
        self._tables: dict[str, list[int]] = {}

    def attempt(self, job_id: str) -> int:
        """The attempt of `job_id` (an array child: its parent's)."""
        parent = parent_of(job_id)
        if parent not in self._attempts:
            arn = f"arn:aws:batch:{self._region}:{ACCOUNT}:job/{parent}"
            tags = self._batch.list_tags_for_resource(resourceArn=arn).get("tags", {})
            self._attempts[parent] = int(tags.get(TAG_ATTEMPT, "1"))
        return self._attempts[parent]

    def index(self, view: JobView) -> int | None:
        """The job's index: from its environment, or a rerun child's from its index table."""
        key = view.environment.get(ENV_ARRAY_INPUTS_KEY, "")
        if view.index is not None or ":" not in view.job_id or not key.endswith(".pack"):
            return view.index
        parent = parent_of(view.job_id)
        if parent not in self._tables:
            bucket = view.environment[ENV_BUCKET]
            body = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            self._tables[parent] = [index for index, _ in unpack_indexed(body)]
        return self._tables[parent][int(view.job_id.rsplit(":", 1)[1])]

    def jobs(self, views: Iterable[JobView], batch_id: str) -> dict[str, AwsJob]:
        """Every job of `batch_id` AWS Batch accepted (every attempt; arrays as children)."""
        return {
            job_id: AwsJob(job_id, self.index(view), self.attempt(job_id))
            for job_id, view in batch_jobs(views, batch_id).items()
        }


def current(jobs: Mapping[str, AwsJob]) -> dict[str, int | None]:
    """job id -> index of each index's current jobs: those of its highest attempt (one, unless
    AWS holds two jobs of one attempt for an index, which `reconcile` counts as duplicates)."""
    top: dict[int | None, int] = {}
    for job in jobs.values():
        top[job.index] = max(top.get(job.index, 0), job.attempt)
    return {job.job_id: job.index for job in jobs.values() if job.attempt == top[job.index]}


def bury(world: MotoWorld, dead: JobSubmitter) -> None:
    """A submitter's process died a while ago: its heartbeat stops, and its session records and
    rerun lease are older than the stale delay by S3's clock (moto's objects, aged in place:
    no request, so no injected fault)."""
    session = dead._presence.session
    session._stop.set()
    stored = s3_backends[ACCOUNT]["aws"].buckets[world.bucket].keys
    keys = [dead.layout.session_key(i) for i in session.ids] + [dead.layout.lease_key]
    # by S3's clock (moto's: the real one), whatever LastModified a simulated beat gave them
    long_ago = utcnow() - timedelta(seconds=STALE_AFTER_SECONDS + 1)
    for key in keys:
        if stored.get(key) is not None:
            stored_object(world, key).last_modified = long_ago
