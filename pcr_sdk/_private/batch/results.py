"""Results in bulk: what AWS Batch knows of many jobs, in few calls, and their outputs.

Plain jobs are described 100 ids a call; the children of an array are learned from their
parent (one id) and ListJobs pages of its children, by status. What a poll or an earlier call
already learned is never asked for again, so all results after a wait cost nothing more.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

from pcr_sdk._private.batch.ledger import Ledger
from pcr_sdk._private.errors import OutputError
from pcr_sdk._private.model.results import (
    JobResult,
    JobState,
    M,
    SubmittedJob,
    expired_state,
    parse_output,
)
from pcr_sdk._private.services.poller import Poller
from pcr_sdk._private.services.store import InputStore
from pcr_sdk._private.wire.facts import JobStatus
from pcr_sdk._private.wire.layout import BatchLayout

logger = logging.getLogger(__name__)


class BatchResults:
    """Reads the results and outputs of a batch's jobs through its ledger."""

    def __init__(self, ledger: Ledger, poller: Poller, layout: BatchLayout) -> None:
        self._ledger = ledger
        self._poller = poller
        self._layout = layout

    def result(self, job_id: str) -> JobResult:
        """One job's result: what is known if it finished, else one DescribeJobs."""
        job = self._ledger.job(job_id)
        state = self._ledger.state(job_id)
        if state is None or not state.status.is_finished:
            fresh = self._poller.describe([job_id]).get(job_id)
            if fresh is not None:
                self._ledger.learn([fresh])
                state = self._ledger.state(job_id)
        return self.make(job, state)

    def detailed(self, job_id: str) -> JobResult:
        """Like `result`, but with what only DescribeJobs tells (log stream, attempts)."""
        state = self._ledger.state(job_id)
        if state is not None and state.summary_only:
            fresh = self._poller.describe([job_id]).get(job_id)
            if fresh is not None:
                self._ledger.learn([fresh])
        return self.result(job_id)

    def results(
        self, job_ids: Sequence[str] | None = None, *, fresh: Collection[str] = ()
    ) -> list[JobResult]:
        """Results of `job_ids` (default: every job, in index order), asking AWS only about
        jobs with no finished state known (and not in `fresh`: states just read)."""
        jobs = (
            list(self._ledger.jobs)
            if job_ids is None
            else [self._ledger.job(job_id) for job_id in job_ids]
        )
        missing = self.refresh([job for job in jobs if job.job_id not in fresh])
        return [
            self.make(job, expired_state(job.job_id) if job.job_id in missing else None)
            for job in jobs
        ]

    def refresh(self, jobs: Iterable[SubmittedJob]) -> set[str]:
        """Ask AWS Batch about `jobs` that have no finished state; return the ids it no longer
        returns (expired), which are not recorded as such (a wait decides that)."""
        unknown = [job for job in jobs if not _finished(self._ledger.state(job.job_id))]
        plain = [job.job_id for job in unknown if job.array_id is None]
        parents = sorted({job.array_id for job in unknown if job.array_id is not None})
        fresh = self._poller.describe(plain + parents)
        self._ledger.learn(state for job_id, state in fresh.items() if job_id not in parents)
        gone = {job_id for job_id in plain if job_id not in fresh}
        for parent_id in parents:
            parent = fresh.get(parent_id)
            children = [job.job_id for job in unknown if job.array_id == parent_id]
            if parent is None:
                gone.update(children)
                continue
            found = self._poller.all_children(parent_id, parent)
            unlisted = [c for c in children if c not in found]  # ListJobs lags behind
            failed = [c for c in children if c in found and found[c].status is JobStatus.FAILED]
            found.update(self._poller.describe(failed + unlisted))  # reasons, exit codes, logs
            self._ledger.learn(found[c] for c in children if c in found)
        return gone

    def make(
        self, job: SubmittedJob, fallback: JobState | None = None, *, output: str | None = None
    ) -> JobResult:
        """The JobResult of `job` from its known state (or `fallback`, or SUBMITTED)."""
        state = self._ledger.state(job.job_id) or fallback
        return JobResult(
            job_id=job.job_id,
            index=job.index,
            status=state.status if state else JobStatus.SUBMITTED,
            status_reason=state.status_reason if state else None,
            exit_code=state.exit_code if state else None,
            attempts=state.attempts if state else 0,
            log_stream_name=state.log_stream_name if state else None,
            output_key=self._layout.output_key(job.index),
            failure=self._ledger.failure(job, state),
            container_reason=state.container_reason if state else None,
            created_at=state.created_at if state else None,
            started_at=state.started_at if state else None,
            stopped_at=state.stopped_at if state else None,
            output=output,
        )

    def outputs(self, store: InputStore, io_workers: int) -> list[str | None]:
        """Every job's output in index order: None for a FAILED job, or one with no output.

        Jobs whose state is not known yet (after attach) are asked about first, 100 ids a call.
        """
        return [text for _, text in self._read_all(store, io_workers)]

    def typed_outputs(self, store: InputStore, io_workers: int, model: type[M]) -> list[M | None]:
        """`outputs`, each validated as `model`; `OutputMalformedError` names the first job
        (id and index) whose output does not validate."""
        return [
            None if text is None else self.parse(job, text, model)
            for job, text in self._read_all(store, io_workers)
        ]

    def parse(self, job: SubmittedJob, text: str, model: type[M]) -> M:
        """Job `job`'s output text validated as `model`."""
        key = self._layout.output_key(job.index)
        return parse_output(text, model, job_id=job.job_id, index=job.index, key=key)

    def _read_all(
        self, store: InputStore, io_workers: int
    ) -> list[tuple[SubmittedJob, str | None]]:
        jobs = list(self._ledger.jobs)
        if not jobs:
            return []
        self.refresh(jobs)

        def read(job: SubmittedJob) -> tuple[SubmittedJob, str | None]:
            return job, read_output(store, job, self._ledger.state(job.job_id))

        with ThreadPoolExecutor(max_workers=min(io_workers, len(jobs))) as pool:
            return list(pool.map(read, jobs))


def read_output(store: InputStore, job: SubmittedJob, state: JobState | None) -> str | None:
    """The job's output text: None for a FAILED job, or when it has no readable output."""
    if state is not None and state.status is JobStatus.FAILED:
        return None
    try:
        return store.get_output_text(job.index, job_id=job.job_id)
    except OutputError as err:
        logger.info("no output for job %s: %s", job.job_id, err)
        return None


def _finished(state: JobState | None) -> bool:
    return state is not None and state.status.is_finished
