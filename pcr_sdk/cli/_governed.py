"""The few AWS Batch calls the maintenance commands make themselves, each through the governor.

Everything else goes through pcr-sdk's public API (`JobSubmitter`, `BatchStatus`, and
`Poller` and `BatchRegistry` of `pcr_sdk.advanced`), which takes the same governor. The tag
names are pcr-sdk's documented contract (docs/compatibility.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Final, TypeVar

from pcr_sdk import RateGovernor

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_batch.type_defs import JobDetailTypeDef

TAG_BATCH_ID: Final = "pcr:batch-id"
"""Every job pcr-sdk submits carries its batch id in this tag."""
TAG_INDEX: Final = "pcr:index"
TAG_MANAGED_BY: Final = "pcr:managed-by"
MANAGED_BY_VALUE: Final = "pcr-sdk"
"""Every job definition pcr-sdk registers is tagged pcr:managed-by=pcr-sdk."""
DESCRIBE_JOBS_MAX_IDS: Final = 100

T = TypeVar("T")


class GovernedBatch:
    """A Batch client whose every request first waits for the command's governor."""

    def __init__(self, batch: BatchClient, governor: RateGovernor) -> None:
        self.batch = batch
        self.governor = governor

    def paged(self, pages: Iterable[T]) -> Iterator[T]:
        """Each page of a paginator, fetched only once the governor admits its request."""
        iterator = iter(pages)
        while True:
            self.governor.acquire()
            page = next(iterator, None)
            if page is None:
                return
            yield page

    def describe_jobs(self, job_ids: Sequence[str]) -> list[JobDetailTypeDef]:
        """DescribeJobs, 100 ids a call."""
        found: list[JobDetailTypeDef] = []
        for start in range(0, len(job_ids), DESCRIBE_JOBS_MAX_IDS):
            self.governor.acquire()
            chunk = list(job_ids[start : start + DESCRIBE_JOBS_MAX_IDS])
            found += self.batch.describe_jobs(jobs=chunk)["jobs"]
        return found

    def terminate(self, job_id: str, reason: str) -> None:
        self.governor.acquire()
        self.batch.terminate_job(jobId=job_id, reason=reason)

    def deregister(self, arn: str) -> None:
        self.governor.acquire()
        self.batch.deregister_job_definition(jobDefinition=arn)
