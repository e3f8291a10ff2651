"""Putting jobs into a batch: one job, an array, or many jobs concurrently, never losing one.

A process submits inside its session of the batch (`join`: the creator's is open from the
start; an attached process opens one at its first submission, and makes sure the definition
is ACTIVE), so that no other process deregisters the definition under it.

Each job is recorded in the ledger (and so the manifest) the moment its SubmitJob returns.
Concurrent submission stops starting new jobs as soon as one fails or the caller is
interrupted (Ctrl-C): queued work is dropped, calls already under way finish and are recorded,
then the error is raised. Nothing that reached AWS Batch is left out of the ledger.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from pcr_sdk._private.batch.ledger import Ledger
from pcr_sdk._private.batch.manifest import ArrayRecord, Manifest
from pcr_sdk._private.model.results import SubmittedJob
from pcr_sdk._private.model.specs import JobSpec
from pcr_sdk._private.services.registry import BatchRegistry
from pcr_sdk._private.services.store import InputStore
from pcr_sdk._private.services.submitter import Submitter
from pcr_sdk._private.wire.facts import MAX_ARRAY_SIZE

logger = logging.getLogger(__name__)


class BatchSubmission:
    """Writes inputs and submits jobs for one batch, recording each in its ledger."""

    def __init__(
        self,
        ledger: Ledger,
        *,
        store: InputStore,
        submitter: Submitter,
        registry: BatchRegistry,
        manifest: Manifest,
        io_workers: int,
        join: Callable[[], None] = lambda: None,
    ) -> None:
        self._ledger = ledger
        self._store = store
        self._submitter = submitter
        self._registry = registry
        self._manifest = manifest
        self.io_workers = io_workers
        self._join = join

    def one(self, spec: JobSpec, callback: Callable[[], object] | None = None) -> str:
        """config.json, then SubmitJob; the job is recorded before this returns."""
        self._ledger.check_open(spec.depends_on)
        self._joined()
        index = self._ledger.reserve(1)
        job = self._send(index, spec, callback)
        logger.info("batch %s: submitted job %d as %s", self._ledger.batch_id, index, job.job_id)
        return job.job_id

    def many(self, specs: Sequence[JobSpec], *, array: bool) -> list[str]:
        """Every spec as a job, in order: arrays of up to 10,000, or one SubmitJob each."""
        if not specs:
            return []
        self._ledger.check_open(specs[0].depends_on)
        self._joined()
        if not array or len(specs) == 1:
            return self._each(specs)
        ids: list[str] = []
        for start in range(0, len(specs), MAX_ARRAY_SIZE):
            chunk = specs[start : start + MAX_ARRAY_SIZE]
            ids += self._array(chunk) if len(chunk) > 1 else self._each(chunk)
        return ids

    def _joined(self) -> None:
        """`join` (open this process's session) as a submission: refused once the batch is
        closing, and `close()` waits for it, so no session opens after `close()` returned."""
        with self._ledger.sending():
            self._join()

    def _send(
        self, index: int, spec: JobSpec, callback: Callable[[], object] | None = None
    ) -> SubmittedJob:
        with self._ledger.sending():
            self._store.put_input(index, spec)
            job_id = self._submitter.submit(
                index, depends_on=spec.depends_on, timeout_seconds=self._timeout
            )
            job = SubmittedJob(job_id=job_id, index=index, depends_on=spec.depends_on)
            self._ledger.record(job, callback)
        return job

    @property
    def _timeout(self) -> int:
        return self._registry.spec.timeout_seconds

    def _array(self, specs: Sequence[JobSpec]) -> list[str]:
        base = self._ledger.reserve(len(specs))
        deps = specs[0].depends_on
        with self._ledger.sending():
            self._store.put_packed_inputs(base, specs)
            array_id = self._submitter.submit_array(
                base, len(specs), depends_on=deps, timeout_seconds=self._timeout
            )
            children = self._ledger.record_array(ArrayRecord(array_id, base, len(specs), deps))
        logger.info("batch %s: submitted jobs %d.. as array %s", self._ledger.batch_id, base,
                    array_id)  # fmt: skip
        return [child.job_id for child in children]

    def _each(self, specs: Sequence[JobSpec]) -> list[str]:
        """Concurrent per-job submission; indexes fixed up front, in input order."""
        base = self._ledger.reserve(len(specs))
        return send_each(
            len(specs), lambda offset: self._send(base + offset, specs[offset]).job_id,
            io_workers=self.io_workers, manifest=self._manifest,
        )  # fmt: skip


def send_each(
    count: int, send: Callable[[int], str], *, io_workers: int, manifest: Manifest
) -> list[str]:
    """`send(0)` .. `send(count - 1)` on up to `io_workers` threads; their results in order.

    One failure, or a Ctrl-C, stops starting more; those under way finish (and record their
    jobs), the manifest is flushed, then the first error (or KeyboardInterrupt) is raised.
    """
    run = _Concurrent(count, send)
    try:
        run.start(min(io_workers, count))
        run.wait()
    except BaseException:
        run.stop()  # the caller was interrupted: start no more; those under way finish
        run.wait()  # each is recorded as it returns (a second Ctrl-C cuts this short)
        raise
    finally:
        manifest.flush_soon()
    return run.results()


class _Concurrent:
    """Calls `send(offset)` for offsets 0..count-1 on a few threads, stopping at the first error.

    The caller waits on events, never on `Thread.join` (CPython may mark a thread stopped when a
    Ctrl-C interrupts a join, after which a join returns while the thread still runs) nor on the
    lock the threads take per call (a Ctrl-C must not queue behind them to be handled).
    """

    def __init__(self, count: int, send: Callable[[int], str]) -> None:
        self._count = count
        self._send = send
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._idle = threading.Event()  # no call runs and none will start
        self._next = 0
        self._running = 0
        self._ids: dict[int, str] = {}
        self._error: BaseException | None = None
        if count == 0:
            self._idle.set()

    def start(self, threads: int) -> None:
        for n in range(threads):
            threading.Thread(target=self._work, name=f"pcr-submit-{n}", daemon=True).start()

    def stop(self) -> None:
        """Start no more calls; those under way finish."""
        self._stop.set()

    def _take(self) -> int | None:
        with self._lock:
            if self._stop.is_set() or self._next >= self._count:
                if self._running == 0:
                    self._idle.set()
                return None
            offset, self._next = self._next, self._next + 1
            self._running += 1
            return offset

    def _work(self) -> None:
        while (offset := self._take()) is not None:
            try:
                job_id = self._send(offset)
            except Exception as err:  # noqa: BLE001 - raised again in the caller's thread
                with self._lock:
                    self._error = self._error or err
                self._stop.set()  # one failed: start no more; those under way finish
            else:
                with self._lock:
                    self._ids[offset] = job_id
            finally:
                with self._lock:
                    self._running -= 1

    def wait(self) -> None:
        """Until every call ended (or the first error stopped the rest)."""
        self._idle.wait()

    def results(self) -> list[str]:
        """The job ids in offset order; raises the first error (the jobs that went out are in
        the ledger already)."""
        with self._lock:
            if self._error is not None:
                raise self._error
            return [self._ids[offset] for offset in range(self._count)]
