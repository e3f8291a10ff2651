"""Putting jobs into a batch: one job, an array, or many jobs concurrently, never losing one.

Each job is recorded in the ledger (and so the manifest) the moment its SubmitJob returns.
Concurrent submission stops starting new jobs as soon as one fails or the caller is
interrupted (Ctrl-C): queued work is dropped, calls already under way finish and are recorded,
then the error is raised. Nothing that reached AWS Batch is left out of the ledger.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait

from pcr_sdk._private.aws import MAX_ARRAY_SIZE
from pcr_sdk._private.ledger import Ledger
from pcr_sdk._private.manifest import ArrayRecord, Manifest
from pcr_sdk._private.models import JobSpec, SubmittedJob
from pcr_sdk._private.registry import BatchRegistry
from pcr_sdk._private.store import InputStore
from pcr_sdk._private.submitter import Submitter

logger = logging.getLogger(__name__)


class _Stopped(Exception):
    """A queued submission that was not started because the batch stopped submitting."""


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
    ) -> None:
        self._ledger = ledger
        self._store = store
        self._submitter = submitter
        self._registry = registry
        self._manifest = manifest
        self.io_workers = io_workers

    def one(self, spec: JobSpec, callback: Callable[[], object] | None = None) -> str:
        """config.json, then SubmitJob; the job is recorded before this returns."""
        self._ledger.check_open(spec.depends_on)
        index = self._ledger.reserve(1)
        job = self._send(index, spec, callback)
        logger.info("batch %s: submitted job %d as %s", self._ledger.batch_id, index, job.job_id)
        return job.job_id

    def many(self, specs: Sequence[JobSpec], *, array: bool) -> list[str]:
        """Every spec as a job, in order: arrays of up to 10,000, or one SubmitJob each."""
        if not specs:
            return []
        self._ledger.check_open(specs[0].depends_on)
        if not array or len(specs) == 1:
            return self._each(specs)
        ids: list[str] = []
        for start in range(0, len(specs), MAX_ARRAY_SIZE):
            chunk = specs[start : start + MAX_ARRAY_SIZE]
            ids += self._array(chunk) if len(chunk) > 1 else self._each(chunk)
        return ids

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
    stop = threading.Event()

    def one(offset: int) -> str:
        if stop.is_set():
            raise _Stopped
        try:
            return send(offset)
        except BaseException:
            stop.set()  # one failed: start no more; those under way finish
            raise

    pool = ThreadPoolExecutor(max_workers=min(io_workers, count), thread_name_prefix="pcr-submit")
    futures: list[Future[str]] = []
    interrupted = False
    try:
        futures = [pool.submit(one, offset) for offset in range(count)]
        wait(futures, return_when=FIRST_EXCEPTION)
    except BaseException:
        stop.set()  # the caller was interrupted: start no more; those under way finish
        interrupted = True
        raise
    finally:
        landed = _drain(pool, stop, interrupted=interrupted)
        manifest.flush_soon()
    if landed:
        raise KeyboardInterrupt  # the Ctrl-C that came while the last calls finished
    errors = [
        f.exception()
        for f in futures
        if not f.cancelled() and not isinstance(f.exception(), _Stopped)
    ]
    first = next((e for e in errors if e is not None), None)
    if first is not None:
        raise first  # the jobs that went out are in the ledger already
    return [f.result() for f in futures]


def _drain(pool: ThreadPoolExecutor, stop: threading.Event, *, interrupted: bool) -> bool:
    """Drop queued submissions and wait for those under way, so each is recorded.

    Returns whether a Ctrl-C landed during the wait. A first Ctrl-C there does not cut the
    wait short (the calls under way end within botocore's timeouts); a second one, or one
    after an earlier interruption, does (KeyboardInterrupt is raised at once).
    """
    landed = False
    while True:
        try:
            pool.shutdown(wait=True, cancel_futures=True)
        except KeyboardInterrupt:
            stop.set()
            if interrupted or landed:
                raise
            landed = True
            logger.warning("interrupted: waiting for the submissions under way to be recorded")
            continue
        return landed
