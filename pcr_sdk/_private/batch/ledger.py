"""The ledger: one batch's job table and the rules that keep it whole.

It knows every job of the batch (id, index, dependencies, array), what AWS Batch last said
about each, which callbacks wait for which job, and which jobs this process stopped. The rules:

- **reserve** consecutive indexes for new jobs; refused once the batch is closing;
- **send**: every SubmitJob runs inside `sending()`, so `close()` can refuse new ones and wait
  for those already under way: a job that reaches AWS Batch is always in the table and the
  manifest before `close()` returns;
- **record** a job the moment its SubmitJob returns (table and manifest together);
- **reconcile** after attach: the manifest's jobs first, then what only AWS Batch knows;
- **attempts**: a rerun (`resubmit_failed`) puts a job with a higher attempt at an index; the
  highest attempt is the index's current job (the only one `jobs`, waits and outputs see);
  attempt numbers are reserved in the manifest before a rerun uses them;
- **settle** a finished job exactly once, whichever wait sees it first: its callback runs once;
  a wait closes the ledger only when no callback runs and none of them submitted a job it has
  not waited for (`close_when_quiet`);
- **label** failures: only jobs this process stopped, and that AWS Batch stopped with this
  process's reason, count as TERMINATED or CANCELLED.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Final, Protocol

from pcr_sdk._private.batch.manifest import ArrayRecord, LoadedManifest
from pcr_sdk._private.errors import BatchClosedError, JobNotFoundError, UnknownDependencyError
from pcr_sdk._private.model.results import FailureKind, JobState, SubmittedJob
from pcr_sdk._private.wire.facts import JobStatus

logger = logging.getLogger(__name__)

Callback = Callable[[], object]


class Journal(Protocol):
    """Where recorded jobs are made durable (the manifest)."""

    def add(self, job: SubmittedJob) -> None: ...

    def add_array(self, array: ArrayRecord) -> None: ...

    def flush(self) -> None: ...

    def reserve(self, reserved_to: int) -> None: ...

    def reserve_attempt(self, attempt: int) -> None: ...


RESERVE_BLOCK: Final = 100
"""Indexes reserved ahead in the manifest at a time (one small S3 write per block)."""


class Ledger:
    """The job table of one batch. Thread-safe; nothing in it makes a network call itself,
    except through the journal it records to."""

    def __init__(self, batch_id: str, journal: Journal) -> None:
        self.batch_id = batch_id
        self._journal = journal
        self._cond = threading.Condition(threading.RLock())
        self._jobs: dict[str, SubmittedJob] = {}
        self._by_index: dict[int, str] = {}
        self._arrays: set[str] = set()
        self._records: dict[str, ArrayRecord] = {}
        self._states: dict[str, JobState] = {}
        self._callbacks: dict[str, Callback] = {}
        self._settled: set[str] = set()
        self._stops: dict[str, str] = {}
        self._next_index = 0
        self._reserved_to = 0
        self._reserved_attempt = 1
        self._closing = False
        self._in_flight = 0
        self._callbacks_running = 0

    # -- submission ---------------------------------------------------------------------------

    def check_open(self, depends_on: Sequence[str] = ()) -> None:
        """Raise if the batch takes no more jobs, or a dependency is not one of its jobs."""
        with self._cond:
            for dep in depends_on:
                if dep not in self._jobs and dep not in self._arrays:
                    raise UnknownDependencyError(
                        f"dependency {dep!r} is not a job of batch {self.batch_id}", job_id=dep
                    )
            if self._closing:
                raise self._closed_error()

    def reserve(self, count: int) -> int:
        """Reserve `count` consecutive job indexes; return the first.

        Indexes are written ahead to the manifest (in blocks) before they are handed out, so
        no later process reuses one whose job reached AWS Batch but not the manifest.
        """
        with self._cond:
            if self._closing:
                raise self._closed_error()
            base = self._next_index
            if base + count > self._reserved_to:
                reserved_to = max(base + count, self._reserved_to + RESERVE_BLOCK)
                self._journal.reserve(reserved_to)
                self._reserved_to = reserved_to
            self._next_index += count
            return base

    @contextmanager
    def sending(self) -> Iterator[None]:
        """One SubmitJob under way: refused once closing; `close()` waits for it to end."""
        with self._cond:
            if self._closing:
                raise self._closed_error()
            self._in_flight += 1
        try:
            yield
        finally:
            with self._cond:
                self._in_flight -= 1
                self._cond.notify_all()

    def record(self, job: SubmittedJob, callback: Callback | None = None) -> None:
        """Add a job whose SubmitJob returned, to the table and the manifest."""
        with self._cond:
            self._put(job)
            if callback is not None:
                self._callbacks[job.job_id] = callback
        self._journal.add(job)

    def record_array(self, array: ArrayRecord) -> list[SubmittedJob]:
        """Add an array job's children to the table and the array to the manifest."""
        children = array.children()
        with self._cond:
            self._arrays.add(array.array_id)
            self._records[array.array_id] = array
            for child in children:
                self._put(child)
        self._journal.add_array(array)
        return children

    def close(self) -> None:
        """Refuse new submissions and wait until those under way are recorded."""
        with self._cond:
            self._closing = True
            while self._in_flight:
                self._cond.wait()

    def close_when_quiet(self, seen: int) -> bool:
        """Close, once no callback runs and no SubmitJob is under way, if the ledger still
        knows just the `seen` jobs (its `count` when the caller's wait began); else (a callback
        submitted more, for the caller to wait for too) stay open and return False."""
        with self._cond:
            while self._callbacks_running or self._in_flight:
                self._cond.wait()
            if len(self._jobs) != seen:
                return False
            self._closing = True
            return True

    def callback_ended(self) -> None:
        """A callback `settle` handed out has returned (or raised)."""
        with self._cond:
            self._callbacks_running -= 1
            self._cond.notify_all()

    @property
    def count(self) -> int:
        """How many jobs the ledger knows, every attempt of every index."""
        with self._cond:
            return len(self._jobs)

    def known_ids(self) -> frozenset[str]:
        """The ids of every job and array parent the ledger knows."""
        with self._cond:
            return frozenset(self._jobs) | frozenset(self._arrays)

    def reopen(self) -> None:
        """Take jobs again (a rerun of a closed batch, whose definition is registered anew)."""
        with self._cond:
            self._closing = False

    def next_attempt(self) -> int:
        """A new attempt number for a rerun: higher than any used or reserved, and reserved in
        the manifest before it is returned."""
        with self._cond:
            if self._closing:
                raise self._closed_error()
            used = max((job.attempt for job in self._jobs.values()), default=1)
            attempt = max(used, self._reserved_attempt) + 1
            self._journal.reserve_attempt(attempt)
            self._reserved_attempt = attempt
            return attempt

    def flush(self) -> None:
        """Make every recorded job durable now (the manifest's pending chunk)."""
        self._journal.flush()

    @property
    def in_flight(self) -> int:
        """SubmitJob calls under way (inside `sending()`)."""
        with self._cond:
            return self._in_flight

    @property
    def closing(self) -> bool:
        with self._cond:
            return self._closing

    # -- what it knows ------------------------------------------------------------------------

    @property
    def jobs(self) -> tuple[SubmittedJob, ...]:
        """Every index's current job (its highest attempt), in index (submission) order."""
        with self._cond:
            return tuple(self._jobs[self._by_index[i]] for i in sorted(self._by_index))

    def current(self, index: int) -> SubmittedJob | None:
        """The current job at `index` (its highest attempt), if any."""
        with self._cond:
            job_id = self._by_index.get(index)
            return None if job_id is None else self._jobs[job_id]

    def array(self, array_id: str) -> ArrayRecord | None:
        """The record of array `array_id` (its size, attempt, index table), if known."""
        with self._cond:
            return self._records.get(array_id)

    def members(self, job_id: str) -> list[int]:
        """The indexes a dependency on `job_id` waits for: an array's children, or one job's."""
        with self._cond:
            record = self._records.get(job_id)
            if record is not None:
                return [record.index_of(i) for i in range(record.size)]
            if job_id in self._arrays:
                return sorted(j.index for j in self._jobs.values() if j.array_id == job_id)
            return [self.job(job_id).index]

    @property
    def arrays(self) -> frozenset[str]:
        """The ids of the batch's array parents."""
        with self._cond:
            return frozenset(self._arrays)

    def __len__(self) -> int:
        """How many indexes have a job."""
        with self._cond:
            return len(self._by_index)

    def job(self, job_id: str) -> SubmittedJob:
        with self._cond:
            try:
                return self._jobs[job_id]
            except KeyError:
                raise JobNotFoundError(job_id, batch_id=self.batch_id) from None

    def state(self, job_id: str) -> JobState | None:
        with self._cond:
            return self._states.get(job_id)

    def states(self) -> dict[str, JobState]:
        with self._cond:
            return dict(self._states)

    def unfinished(self) -> list[SubmittedJob]:
        """Jobs with no finished state known, in index order."""
        with self._cond:
            return [job for job in self.jobs if not self._finished(job.job_id)]

    def learn(self, states: Iterable[JobState]) -> None:
        """Remember what AWS Batch said; a finished state is never replaced by an older one."""
        with self._cond:
            for state in states:
                if state.job_id in self._jobs and not self._finished(state.job_id):
                    self._states[state.job_id] = state
                elif state.job_id in self._jobs and not state.summary_only:
                    known = self._states[state.job_id]
                    if known.summary_only and state.status is known.status:
                        self._states[state.job_id] = state  # same outcome, more detail

    # -- settling -------------------------------------------------------------------------------

    def settle(self, state: JobState) -> tuple[bool, Callback | None]:
        """Record a finished state; (True, its callback) the first time only, else (False, None).

        A callback handed out counts as running (it may submit jobs) until the caller reports
        `callback_ended()`: `close_when_quiet` waits for it."""
        with self._cond:
            self.learn([state])
            if state.job_id not in self._jobs or not state.status.is_finished:
                return False, None
            if state.job_id in self._settled:
                return False, None
            self._settled.add(state.job_id)
            callback = self._callbacks.pop(state.job_id, None)
            if callback is not None:
                self._callbacks_running += 1
            return True, callback

    def unsettled(self) -> list[JobState]:
        """Finished states of current jobs learned outside a wait, not settled yet."""
        with self._cond:
            current = set(self._by_index.values())
            return [
                state
                for job_id, state in self._states.items()
                if state.status.is_finished and job_id not in self._settled and job_id in current
            ]

    # -- stopping -------------------------------------------------------------------------------

    def stopping(self, targets: Iterable[str], reason: str) -> None:
        """This process asked AWS Batch to stop `targets` (jobs or array parents) for `reason`."""
        with self._cond:
            for target in targets:
                self._stops[target] = reason

    def failure(self, job: SubmittedJob, state: JobState | None) -> FailureKind | None:
        """The job's failure kind; TERMINATED or CANCELLED only where this process stopped it."""
        if state is None:
            return None
        kind = state.failure
        with self._cond:
            reason = self._stops.get(job.job_id)
            if reason is None and job.array_id is not None:
                reason = self._stops.get(job.array_id)
        if (
            reason is not None
            and state.status is JobStatus.FAILED
            and state.status_reason == reason
            and kind is not FailureKind.DEPENDENCY_FAILED
        ):
            return FailureKind.CANCELLED if state.cancelled else FailureKind.TERMINATED
        return kind

    # -- attach ---------------------------------------------------------------------------------

    def reconcile(
        self,
        loaded: LoadedManifest,
        found: Sequence[tuple[SubmittedJob, JobState | None]],
        *,
        record: bool = True,
    ) -> int:
        """Rebuild the table after attach: the manifest's jobs, then those only AWS Batch has.

        `found` holds every job AWS Batch shows (every attempt, every array child). A job with
        a higher attempt than an index's known one is its current job; one with the same
        attempt as a job the manifest names is a duplicate and ignored (with a warning). Jobs
        found only in AWS Batch go to the manifest too, with `record` (a watcher following a
        live batch leaves that to the process submitting them). Returns how many were
        recovered.
        """
        with self._cond:
            self._next_index = max(self._next_index, loaded.reserved_to)
            self._reserved_to = max(self._reserved_to, loaded.reserved_to)
            self._reserved_attempt = max(self._reserved_attempt, loaded.reserved_attempt)
            self._records.update((array.array_id, array) for array in loaded.arrays)
            for job in loaded.all_jobs():
                self._put(job)
        recovered = 0
        new_arrays: dict[str, list[SubmittedJob]] = {}
        for job, state in found:
            with self._cond:
                known = job.job_id in self._jobs
                owner = self.current(job.index)
                if not known and owner is not None and owner.attempt == job.attempt:
                    logger.warning(
                        "job %d of %s: manifest says %s, AWS Batch also has %s; keeping the "
                        "manifest's", job.index, self.batch_id, owner.job_id, job.job_id,
                    )  # fmt: skip
                    continue
                if not known:
                    self._put(job)
                    recovered += 1
                    if job.array_id is not None and job.array_id not in self._records:
                        new_arrays.setdefault(job.array_id, []).append(job)
            if record and not known and job.array_id is None:
                self._journal.add(job)
            if state is not None:
                self.learn([state])
        for array_id in sorted(new_arrays):
            array = _record_of(array_id, new_arrays[array_id])
            with self._cond:
                self._records[array_id] = array
            if record:
                self._journal.add_array(array)
        if record:
            self._journal.flush()
        return recovered

    # -- internals ------------------------------------------------------------------------------

    def _put(self, job: SubmittedJob) -> None:
        self._jobs[job.job_id] = job
        current = self._by_index.get(job.index)
        if current is None or self._jobs[current].attempt <= job.attempt:
            self._by_index[job.index] = job.job_id
        if job.array_id is not None:
            self._arrays.add(job.array_id)
        self._next_index = max(self._next_index, job.index + 1)

    def _finished(self, job_id: str) -> bool:
        state = self._states.get(job_id)
        return state is not None and state.status.is_finished

    def _closed_error(self) -> BatchClosedError:
        return BatchClosedError(
            f"batch {self.batch_id} is closed: its job definition is deregistered "
            "(or being deregistered) and it takes no more jobs",
            batch_id=self.batch_id,
        )


def _record_of(array_id: str, children: Sequence[SubmittedJob]) -> ArrayRecord:
    """The record of an array found only in AWS Batch, from all its children."""
    ordered = sorted(children, key=lambda child: int(child.job_id.rsplit(":", 1)[1]))
    first = ordered[0]
    if first.attempt == 1:
        return ArrayRecord(array_id, min(c.index for c in ordered), len(ordered), first.depends_on)
    table = tuple(child.index for child in ordered)
    return ArrayRecord(array_id, table[0], len(table), first.depends_on, first.attempt, table)


def states_of(results: Mapping[str, JobState]) -> list[JobState]:
    """The states of a poll's result, for `Ledger.learn`."""
    return list(results.values())
