"""What other processes did to a batch since this one looked: their jobs and their sessions.

A batch may grow while a process watches it (the creator still submitting, another process
rerunning). `BatchFollower.refresh` reads the manifest chunks written since the last look and,
once another process's session was ever seen, the jobs AWS Batch lists that are newer than
every job known (ListJobs lists newest first, so its first page is usually enough; a job may
reach AWS Batch before its manifest chunk), adds them to the ledger, and says from the session
records whether anybody may still submit (`BatchState`).
"""

from __future__ import annotations

from collections.abc import Callable

from pcr_sdk._private.batch.discovery import Found, scan_batch_jobs
from pcr_sdk._private.batch.ledger import Ledger
from pcr_sdk._private.batch.manifest import Manifest
from pcr_sdk._private.batch.sessions import BatchState, Session, SessionBook
from pcr_sdk._private.edge.reads import BatchReads
from pcr_sdk._private.services.store import InputStore


class BatchFollower:
    """Brings one process's ledger up to date with what the others did to the batch."""

    def __init__(
        self,
        ledger: Ledger,
        *,
        manifest: Manifest,
        store: InputStore,
        reads: BatchReads,
        job_queue: str,
        book: SessionBook,
        session: Session,
    ) -> None:
        self._ledger = ledger
        self._manifest = manifest
        self._store = store
        self._reads = reads
        self._job_queue = job_queue
        self.book = book
        self._session = session

    def refresh(self, check: Callable[[], object] = lambda: None) -> BatchState:
        """Read the new manifest chunks and the jobs AWS Batch lists that are not known, into
        the ledger; the batch's state. Jobs found only in AWS Batch go to the manifest too, as
        on attach (their process may have died before it wrote them; if it did write them, the
        same records twice are no lie). `check()` runs before each S3 request (a deadline).

        Args:
            check: runs before each request (raises when a deadline passed).

        Returns:
            The batch's state.

        Raises:
            ManifestError: a new chunk breaks a rule (nothing of this refresh is taken).
            AwsError: S3 or AWS Batch could not be read.
        """
        loaded = self._manifest.reader.read_new(check)
        state = self.state()
        found: Found = []
        if self.book.seen_others:  # else no other process ever submitted: nothing to list
            store = self._store
            found = scan_batch_jobs(
                self._reads, job_queue=self._job_queue, batch_id=self._ledger.batch_id,
                read_table=lambda bucket, key, size: store.read_index_table(key, size),
                known=self._ledger.known_ids()
                | {job.job_id for job in loaded.jobs}
                | {array.array_id for array in loaded.arrays},
            )  # fmt: skip
        self._ledger.reconcile(loaded, found)
        return state

    def look(self) -> BatchState:
        """The batch's state now: one listing of its manifest (no chunk is read).

        Returns:
            The batch's state.

        Raises:
            AwsError: S3 could not be listed.
        """
        listing = self._store.list_detailed(self._store.layout.manifest_prefix)
        return self.book.state(listing, own=self._session.ids)

    def state(self) -> BatchState:
        """The batch's state as the last listing of its manifest showed it (this process's own
        session left out: it knows whether it is open)."""
        listing = self._manifest.reader.listing
        if listing is None:
            return BatchState((), (), ())
        return self.book.state(listing, own=self._session.ids)
