"""BatchStatus: a read-only view of a batch from AWS Batch (nothing written, no manifest read).

For tools that only look (`pcr status`, `pcr report`): the batch's jobs are found by its job
name and `pcr:index` tags, plain jobs described 100 a call, an array's children listed by
status through their parent. AWS Batch shows finished jobs for about a day; for older batches
`JobSubmitter.attach` (which also reads the manifest in the bucket) is the way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pcr_sdk._private.batch.discovery import s3_table_reader, scan_batch_jobs
from pcr_sdk._private.batch.lease import LeaseKeeper, RerunLease
from pcr_sdk._private.batch.ledger import Ledger
from pcr_sdk._private.batch.manifest import ArrayRecord, LoadedManifest
from pcr_sdk._private.batch.results import BatchResults
from pcr_sdk._private.edge.clients import clients_for
from pcr_sdk._private.edge.governor import RateGovernor, governor_for
from pcr_sdk._private.errors import BatchClosedError, JobNotFoundError, PcrInputError
from pcr_sdk._private.model.names import BatchId
from pcr_sdk._private.model.results import JobResult, SubmittedJob
from pcr_sdk._private.model.settings import (
    STALE_AFTER_SECONDS,
    AwsSettings,
    StoreSettings,
    build,
)
from pcr_sdk._private.model.specs import JobDefinitionSpec
from pcr_sdk._private.public import public
from pcr_sdk._private.seams import REAL, Seams
from pcr_sdk._private.services.poller import Poller
from pcr_sdk._private.services.registry import BatchRegistry
from pcr_sdk._private.services.store import InputStore
from pcr_sdk._private.services.submitter import Submitter
from pcr_sdk._private.wire.facts import JobStatus
from pcr_sdk._private.wire.layout import BatchLayout

if TYPE_CHECKING:
    import boto3

    from pcr_sdk._private.edge.clients import AwsClients


class _NoJournal:
    """A view writes nothing: its ledger records to nowhere."""

    def add(self, job: SubmittedJob) -> None:
        return None

    def add_array(self, array: ArrayRecord) -> None:
        return None

    def flush(self) -> None:
        return None

    def reserve(self, reserved_to: int) -> None:
        return None

    def reserve_attempt(self, attempt: int) -> None:
        return None


@public("pcr_sdk")
@dataclass(frozen=True)
class BatchStatus:
    """What AWS Batch shows of one batch right now: its jobs, their results, its definition."""

    batch_id: str
    """The batch's id, `<name>_<uuid4>`."""
    job_queue: str
    """The queue its jobs were looked for in."""
    jobs: tuple[SubmittedJob, ...]
    """Each index's current job (its highest attempt), in index order (array children
    included)."""
    results: tuple[JobResult, ...]
    """Each job's result, in the same order."""
    definition: JobDefinitionSpec | None
    """The batch's job definition (image, resources), if AWS Batch still has it."""
    definition_active: bool
    """Whether the definition is still ACTIVE (the batch still takes jobs)."""
    earlier_jobs: tuple[SubmittedJob, ...] = ()
    """The jobs a rerun replaced at their index (`resubmit_failed`, `pcr retry`): every lower
    attempt AWS Batch still shows, by index then attempt."""
    earlier_results: tuple[JobResult, ...] = ()
    """Their results, in the same order."""
    rerun_lease: RerunLease | None = None
    """The batch's rerun lease, when `fetch` was given the bucket and the batch was ever rerun:
    whether a process is rerunning it (`RerunLease.in_force`), who, until when."""

    @classmethod
    def fetch(
        cls,
        batch_id: str,
        *,
        job_queue: str,
        clients: AwsClients | None = None,
        session: boto3.Session | None = None,
        aws_region: str | None = None,
        governor: RateGovernor | None = None,
        seams: Seams = REAL,
        job_bucket: str | None = None,
    ) -> BatchStatus:
        """Read batch `batch_id` from `job_queue`: a few Batch calls per 100 jobs, plus one
        ranged S3 GET per rerun array (its index table, in the bucket its jobs name). The
        jobs a rerun replaced come too (`earlier_jobs`); their results cost nothing more but
        for array children, which are listed through their parent. With `job_bucket`, also its
        rerun lease (one listing and one GET).

        Args:
            batch_id: the batch's id, `<name>_<uuid4>`.
            job_queue: the queue its jobs went to.
            clients: ready-made Batch, S3 and CloudWatch Logs clients (instead of `session`).
            session: the boto3 session to make the clients from.
            aws_region: the region of the queue (default: the configured one).
            governor: the rate governor of the Batch calls (default: the process's one for the
                region and endpoint).
            seams: the clock and sleep of its requests' spacing (`Seams`), for tests.
            job_bucket: the batch's bucket, to read its rerun lease too (default: not read).

        Returns:
            The batch as AWS Batch shows it now; nothing is written.

        Raises:
            InvalidBatchNameError: `batch_id` is not `<name>_<uuid4>`.
            PcrInputError: `job_queue` is empty, `job_bucket` is not a bucket name, or no
                region is configured.
            AwsError: a Batch or S3 call failed.
        """
        parsed = BatchId.parse(batch_id)
        if not job_queue:
            raise PcrInputError("job_queue must not be empty")
        store_settings = None if job_bucket is None else build(StoreSettings, bucket=job_bucket)
        aws = build(AwsSettings, region=aws_region)
        clients = clients_for(aws, session=session, clients=clients)
        governor = governor_for(clients.batch, governor)
        poller = Poller(clients.batch, request_throttling_milliseconds=0, governor=governor,
                        seams=seams)  # fmt: skip
        ledger = Ledger(str(parsed), _NoJournal())
        found = scan_batch_jobs(poller.reads, job_queue=job_queue, batch_id=str(parsed),
                                read_table=s3_table_reader(clients.s3))  # fmt: skip
        ledger.reconcile(LoadedManifest(), found)
        reader = BatchResults(ledger, poller, BatchLayout(str(parsed)))
        # discovery just described the plain jobs: only array children are left to learn
        fresh = {job.job_id for job, state in found if state is not None}
        results = reader.results(fresh=fresh)
        current = {job.job_id for job in ledger.jobs}
        earlier = [job for job in dict.fromkeys(job for job, _ in found)
                   if job.job_id not in current and _known(ledger, job)]  # fmt: skip
        earlier_results = reader.results([job.job_id for job in earlier], fresh=fresh)
        try:
            registry = BatchRegistry.find(clients.batch, parsed, governor=governor)
        except BatchClosedError:
            definition, active = None, False
        else:
            definition, active = registry.spec, not registry.closed
        lease = None
        if store_settings is not None:
            store = InputStore(clients.s3, store_settings.bucket, BatchLayout(str(parsed)))
            lease = LeaseKeeper(store, seconds=STALE_AFTER_SECONDS, holder="").look()
        return cls(str(parsed), job_queue, ledger.jobs, tuple(results), definition, active,
                   tuple(earlier), tuple(earlier_results), lease)  # fmt: skip

    @property
    def counts(self) -> Mapping[JobStatus, int]:
        """How many jobs are in each status."""
        return dict(Counter(result.status for result in self.results))

    @property
    def finished(self) -> bool:
        """Whether every job found has finished."""
        return all(result.finished for result in self.results)

    def unfinished(self) -> list[JobResult]:
        """The results of the jobs not finished yet.

        Returns:
            Those results, in index order.
        """
        return [result for result in self.results if not result.finished]

    def cancel(
        self,
        reason: str,
        *,
        clients: AwsClients,
        governor: RateGovernor | None = None,
    ) -> list[str]:
        """Terminate the jobs this view saw unfinished (an array through its parent); return
        the ids TerminateJob was sent for. Writes nothing to S3; deregisters nothing.

        Args:
            reason: recorded by AWS Batch on every job it stops (not empty).
            clients: the clients to send TerminateJob with.
            governor: the rate governor of the calls (default: the process's one for the
                clients' region and endpoint).

        Returns:
            The ids TerminateJob was sent for (an array's parent stands for its children).

        Raises:
            PcrInputError: `reason` is empty.
            AwsError: a TerminateJob failed.
        """
        if not reason:
            raise PcrInputError("cancel needs a reason (AWS Batch records it on every job)")
        submitter = Submitter(
            clients.batch, job_queue=self.job_queue, bucket="unused",
            layout=BatchLayout(self.batch_id), job_definition=self.batch_id, governor=governor,
        )  # fmt: skip
        by_id = {job.job_id: job for job in self.jobs}
        targets = _targets(by_id, self.unfinished())
        for target in targets:
            submitter.terminate(target, reason)
        return targets


def _known(ledger: Ledger, job: SubmittedJob) -> bool:
    """Whether the ledger took `job` (it leaves out a second job at an index and attempt)."""
    try:
        return ledger.job(job.job_id) == job
    except JobNotFoundError:
        return False


def _targets(jobs: Mapping[str, SubmittedJob], unfinished: Sequence[JobResult]) -> list[str]:
    return list(dict.fromkeys(jobs[r.job_id].array_id or r.job_id for r in unfinished))
