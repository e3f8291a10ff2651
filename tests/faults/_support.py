"""What the fault tests share: the simulated worker, and AWS's own view of a batch's jobs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pcr_sdk.advanced import SubmittedJob
from pcr_sdk.testing import JobView


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
