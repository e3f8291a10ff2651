"""Watching a batch: waits that settle each job once, results as they finish, and
cancellation that labels honestly."""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import as_completed as when_done

from pcr_sdk._private.batch.ledger import Ledger
from pcr_sdk._private.batch.results import BatchResults, read_output
from pcr_sdk._private.errors import WaitTimeoutError
from pcr_sdk._private.model.results import JobResult, JobState
from pcr_sdk._private.progress import ProgressReporter
from pcr_sdk._private.services.poller import Poller
from pcr_sdk._private.services.store import InputStore
from pcr_sdk._private.services.submitter import Submitter

logger = logging.getLogger(__name__)


class BatchWatch:
    """Polls a batch's jobs through its ledger; callbacks and failure reports run once per job,
    whichever wait sees the job finish first."""

    def __init__(
        self, ledger: Ledger, poller: Poller, results: BatchResults, submitter: Submitter
    ) -> None:
        self._ledger = ledger
        self._poller = poller
        self._results = results
        self._submitter = submitter

    def wait(self, progress: ProgressReporter, timeout: float | None) -> None:
        """Poll until every job finished (jobs known finished are settled first)."""
        for state in self._ledger.unsettled():
            self.settle(state, progress)
        self._poller.wait(
            [job.job_id for job in self._ledger.jobs], arrays=self._ledger.arrays,
            known=self._ledger.states(), on_finished=lambda s: self.settle(s, progress),
            on_progress=progress.on_progress, timeout=timeout,
        )  # fmt: skip

    def as_completed(
        self,
        store: InputStore,
        io_workers: int,
        progress: ProgressReporter,
        timeout: float | None,
    ) -> Generator[JobResult, None, None]:
        """Each job's final result with its output, as polls see the jobs finish (those known
        finished first). Polls as `wait` does, plus ListJobs of an array's newly SUCCEEDED
        children; outputs are read concurrently. A job's callback runs just before its result
        is yielded (unless an earlier wait ran it). Closing the generator early leaves the rest
        to a later wait: what the last poll learned is in the ledger, unsettled."""
        self._ledger.flush()
        jobs = self._ledger.jobs
        known = self._ledger.states()
        run = self._poller.run(
            [job.job_id for job in jobs], arrays=self._ledger.arrays, known=known,
            on_progress=progress.on_progress, timeout=timeout, identify=True,
        )  # fmt: skip
        first = [known[job.job_id] for job in jobs if job.job_id in known]
        pool = ThreadPoolExecutor(max_workers=io_workers, thread_name_prefix="pcr-output")
        try:
            yield from self._deliver([s for s in first if s.status.is_finished], store, pool,
                                     progress)  # fmt: skip
            for finished in run:
                self._ledger.learn(finished)  # kept even if the caller stops early
                yield from self._deliver(finished, store, pool, progress)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _deliver(
        self,
        states: Sequence[JobState],
        store: InputStore,
        pool: ThreadPoolExecutor,
        progress: ProgressReporter,
    ) -> Iterator[JobResult]:
        """Read the outputs of `states`' jobs concurrently; settle and yield each as it is read."""
        reads: dict[Future[str | None], JobState] = {
            pool.submit(read_output, store, self._ledger.job(s.job_id), s): s for s in states
        }
        for read in when_done(reads):
            state, output = reads[read], read.result()
            self.settle(state, progress)
            yield self._results.make(self._ledger.job(state.job_id), state, output=output)

    def cancel(
        self, reason: str, progress: ProgressReporter, *, wait: bool, timeout: float | None
    ) -> dict[str, JobResult]:
        """Terminate every unfinished job (an array through its parent); with `wait`, poll
        until they stopped or `timeout` ran out. The ledger must be closed already."""
        unfinished = self._ledger.unfinished()
        targets = list(dict.fromkeys(job.array_id or job.job_id for job in unfinished))
        self._ledger.stopping(targets, reason)
        for target in targets:
            self._submitter.terminate(target, reason)
        if wait and unfinished:
            try:
                self._poller.wait(
                    [job.job_id for job in unfinished], known=self._ledger.states(),
                    arrays=[t for t in targets if t in self._ledger.arrays],
                    on_finished=lambda s: self.settle(s, progress), timeout=timeout,
                )  # fmt: skip
            except WaitTimeoutError as err:
                logger.warning("cancel: %d job(s) not yet stopped: %s", len(err.unfinished), err)
        return {job.job_id: self._results.make(job) for job in unfinished}

    def settle(self, state: JobState, progress: ProgressReporter) -> None:
        """A job was seen finished: report a failure and run its callback, the first time."""
        first, callback = self._ledger.settle(state)
        if not first:
            return
        if state.failure is not None:
            progress.on_job_failed(self._results.make(self._ledger.job(state.job_id)))
        if callback is not None:
            callback()
