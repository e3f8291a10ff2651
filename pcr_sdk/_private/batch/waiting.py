"""Watching a batch: waits that follow it to its end and settle each job once, results as they
finish, and cancellation that labels honestly.

A wait ends when the batch is over, not when this process's jobs are: it polls the jobs it
knows; once they finished and no callback runs (a callback may submit more, which it then waits
for too), this process stops submitting (its ledger closes, its session closes); then it looks
for what other processes did (`BatchFollower`) and goes on until every session of the batch is
closed or stale and every job has finished. Its timeout is a deadline over all of it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import as_completed as when_done

from pcr_sdk._private.batch.follow import BatchFollower
from pcr_sdk._private.batch.ledger import Ledger
from pcr_sdk._private.batch.results import BatchResults, read_output
from pcr_sdk._private.batch.sessions import BatchState
from pcr_sdk._private.errors import WaitTimeoutError
from pcr_sdk._private.model.results import JobResult, JobState
from pcr_sdk._private.progress import ProgressReporter
from pcr_sdk._private.seams import Seams
from pcr_sdk._private.services.pacing import DeadlineReached, bounded
from pcr_sdk._private.services.poller import Poller
from pcr_sdk._private.services.store import InputStore
from pcr_sdk._private.services.submitter import Submitter

logger = logging.getLogger(__name__)


class BatchWatch:
    """Polls a batch's jobs through its ledger; callbacks and failure reports run once per job,
    whichever wait sees the job finish first."""

    def __init__(
        self,
        ledger: Ledger,
        poller: Poller,
        results: BatchResults,
        submitter: Submitter,
        *,
        follower: BatchFollower,
        seams: Seams,
        look_again_seconds: float,
        stop_submitting: Callable[[], None],
    ) -> None:
        self._ledger = ledger
        self._poller = poller
        self._results = results
        self._submitter = submitter
        self._follower = follower
        self._seams = seams
        self._look_again = look_again_seconds
        self._stop_submitting = stop_submitting

    def wait(self, progress: ProgressReporter, timeout: float | None, started: float) -> None:
        """Follow the batch until it is over: every session closed (or stale) and every job
        finished, the jobs callbacks submitted included (see the module's docstring).

        Args:
            progress: told of each poll and each failed job.
            timeout: seconds to wait at most (None: no limit).
            started: when the wait began, by the seams' clock.

        Raises:
            WaitTimeoutError: `timeout` (counted from `started`) ran out.
            AwsError: a poll or a look at S3 failed.
        """
        deadline = None if timeout is None else started + timeout
        while True:
            for state in self._ledger.unsettled():
                self.settle(state, progress)
            seen = self._ledger.count
            self._poller.wait(
                [job.job_id for job in self._ledger.jobs], arrays=self._ledger.arrays,
                known=self._ledger.states(), on_finished=lambda s: self.settle(s, progress),
                on_progress=progress.on_progress, timeout=timeout, started=started,
            )  # fmt: skip
            if not self._ledger.close_when_quiet(seen):
                continue  # a callback submitted jobs: wait for them too
            self._stop_submitting()
            batch = self._refresh(deadline, started, timeout)
            if self._ledger.count != seen:
                continue  # other processes' jobs
            if batch.closed and not self._ledger.unfinished():
                return
            self._pause(deadline, started, timeout, batch)

    def _refresh(self, deadline: float | None, started: float, timeout: float | None) -> BatchState:
        def check() -> None:
            if deadline is not None and self._seams.clock() > deadline:
                raise DeadlineReached

        try:
            with bounded(deadline):
                return self._follower.refresh(check)
        except DeadlineReached:
            raise self._timed_out(started, timeout, self._follower.state()) from None

    def _pause(
        self, deadline: float | None, started: float, timeout: float | None, state: BatchState
    ) -> None:
        """Someone may still submit: look again after a while, but not past the deadline."""
        pause = self._look_again
        if deadline is not None:
            left = deadline - self._seams.clock()
            if left <= 0:
                raise self._timed_out(started, timeout, state)
            pause = min(pause, left)
        self._seams.sleep(pause)

    def _timed_out(
        self, started: float, timeout: float | None, state: BatchState
    ) -> WaitTimeoutError:
        unfinished = self._ledger.unfinished()
        waited = self._seams.clock() - started
        still = f"{len(unfinished)} job(s) unfinished" if unfinished else "every job finished"
        return WaitTimeoutError(
            f"{still} after {waited:.1f} s (timeout {timeout} s), and the batch is still open: "
            f"{len(state.live)} other process(es) may still submit to it",
            unfinished={job.job_id: _status(self._ledger.state(job.job_id)) for job in unfinished},
        )

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
        try:
            if state.failure is not None:
                progress.on_job_failed(self._results.make(self._ledger.job(state.job_id)))
            if callback is not None:
                callback()
        finally:
            if callback is not None:
                self._ledger.callback_ended()


def _status(state: JobState | None) -> str:
    return "UNKNOWN" if state is None else state.status.value
