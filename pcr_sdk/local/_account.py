"""`LocalAccount`: a kept local account as a whole, seen from any process.

It finds the account's holder and talks to it (`connect`: over HTTP, signed with the
directory's keys), or opens the account itself when nobody holds it; it lists the batches kept
there with their sizes, and forgets one or all of them (with nobody holding it). The CLI's
`--local` commands go through it; where the account lives by default is here too.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from platformdirs import user_state_path

from pcr_sdk._private.edge.clients import AwsClients
from pcr_sdk._private.public import public
from pcr_sdk._private.wire import facts
from pcr_sdk._private.wire.layout import JOBS_ROOT
from pcr_sdk.local._backend import LocalBackend, clients_at
from pcr_sdk.local._credentials import CREDENTIALS_FILE, load_or_create
from pcr_sdk.local._holder import (
    ENDPOINT_FILE,
    AccountInUseError,
    Holder,
    HolderLock,
    live_holder,
    published,
)
from pcr_sdk.local._journal import EngineJournal, compact, forget
from pcr_sdk.local._kept import account_size, in_use, log_directory
from pcr_sdk.local._model import Job
from pcr_sdk.local._s3mirror import S3_DIRECTORY, BucketOwner, S3Mirror, segment

APP_NAME: Final = "pcr-sdk"
WAIT_SECONDS: Final = 0.2
"""Between two looks at an account whose holder is starting, closing or only reading."""
_KEPT_FILES: Final = (CREDENTIALS_FILE, "lock")
"""What `reset` keeps: the keys (shells' export lines stay valid) and the lock it holds."""


@public("pcr_sdk.local")
@dataclass(frozen=True)
class KeptBatch:
    """A batch kept in a local account, and what it takes there."""

    batch_id: str
    """The batch's id, `<name>_<uuid>`."""
    jobs: int
    """Its jobs (an array's children count one each, the array itself not)."""
    counts: dict[str, int] = field(default_factory=dict)
    """Its jobs by AWS Batch status."""
    created_at: int | None = None
    """When its first job was submitted, epoch ms (None: no job, only objects)."""
    s3_bytes: int = 0
    """Its objects in the embedded S3 (inputs, outputs, manifest), as kept on disk."""
    log_bytes: int = 0
    """Its jobs' log files."""

    @property
    def total_bytes(self) -> int:
        """Its objects and logs together."""
        return self.s3_bytes + self.log_bytes

    @property
    def finished(self) -> bool:
        """Every job of it has ended (SUCCEEDED or FAILED)."""
        return all(status in ("SUCCEEDED", "FAILED") for status in self.counts)


@public("pcr_sdk.local")
@dataclass(frozen=True)
class LocalConnection:
    """A kept account in use: clients for its endpoint, its bucket and queue."""

    clients: AwsClients
    """Batch, S3 and Logs clients signed with the account's keys."""
    bucket: str
    """The job bucket."""
    queue: str
    """The job queue's name."""
    region: str
    """The region of the clients."""
    endpoint_url: str
    """The holder's endpoint."""
    holder: Holder | None
    """The process that holds the account and runs its jobs; None: this one opened it."""


def batch_of(job: Job) -> str | None:
    """The pcr-sdk batch a top-level job belongs to (its `pcr:batch-id` tag), if any."""
    return job.tags.get(facts.TAG_BATCH_ID)


@public("pcr_sdk.local")
class LocalAccount:
    """A local account kept in a data directory (`LocalBackend(data_dir=...)` keeps one).

    Args:
        path: the data directory.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"LocalAccount({str(self.path)!r})"

    @staticmethod
    def default_path() -> Path:
        """Where the `pcr` command keeps its local account: the user's state directory.

        `$XDG_STATE_HOME/pcr-sdk/local` (`~/.local/state/pcr-sdk/local`) on Linux,
        `~/Library/Application Support/pcr-sdk/local` on macOS, `%LOCALAPPDATA%\\pcr-sdk\\local`
        on Windows (platformdirs' rules).

        Returns:
            The directory (it may not exist yet).
        """
        return user_state_path(APP_NAME, appauthor=False) / "local"

    def holder(self) -> Holder | None:
        """The process holding the account now, as it published itself.

        Returns:
            The holder; None if no process holds the account (or it has not published yet).
        """
        return live_holder(self.path)

    @contextlib.contextmanager
    def connect(
        self,
        *,
        run_jobs: bool = False,
        on_wait: Callable[[Holder | None], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Iterator[LocalConnection]:
        """Use the account: join its holder, or open it here if nobody holds it.

        A holder is joined if it runs jobs, or if `run_jobs` is False (reading); otherwise
        (it only reads, or is starting or closing) this waits for it, calling `on_wait` once
        with what it published. Opened here, the account runs jobs only with `run_jobs`, with
        the settings stored in it (`LocalBackend.reopen`), and closes when the block ends.

        Args:
            run_jobs: jobs must run while the block lasts (e.g. to wait for them).
            on_wait: told once when this has to wait for another holder.
            sleep: how to wait between two looks (injectable for tests).

        Yields:
            The clients, bucket and queue to use.

        Raises:
            AccountFormatError: a file of the account is from a newer pcr-sdk, or damaged.
            AccountConflictError: another backend of this process uses one of its buckets.
        """
        told = False
        while True:
            holder = live_holder(self.path)
            if holder is not None and (holder.runs_jobs or not run_jobs):
                break
            backend = LocalBackend.reopen(self.path, run_jobs=run_jobs)
            try:
                backend.start()
            except AccountInUseError as err:
                if on_wait is not None and not told:
                    on_wait(err.holder)
                    told = True
                sleep(WAIT_SECONDS)
                continue
            with contextlib.closing(backend):
                yield LocalConnection(
                    clients=backend.clients,
                    bucket=backend.bucket,
                    queue=backend.queue,
                    region=backend.region,
                    endpoint_url=backend.endpoint_url,
                    holder=None,
                )
            return
        _, clients = clients_at(holder.url, holder.region, load_or_create(self.path))
        try:
            yield LocalConnection(
                clients=clients,
                bucket=holder.bucket,
                queue=holder.queue,
                region=holder.region,
                endpoint_url=holder.url,
                holder=holder,
            )
        finally:
            for client in (clients.batch, clients.s3, clients.logs):
                client.close()

    # -- housekeeping --------------------------------------------------------------------------

    def batches(self) -> list[KeptBatch]:
        """The batches kept here, oldest first (read from the files; a holder may run).

        Returns:
            Each batch with its jobs by status and the bytes it takes.

        Raises:
            AccountFormatError: a file of the account is from a newer pcr-sdk, or damaged.
        """
        kept = EngineJournal(self.path).load()
        jobs: dict[str, list[Job]] = {}
        for job in kept.jobs:
            batch = batch_of(job)
            if batch is not None:
                jobs.setdefault(batch, []).extend(job.children or [job])
        names = set(jobs) | set(self._s3_batches())
        found = []
        for batch_id in names:
            own = jobs.get(batch_id, [])
            counts = Counter(job.status.value for job in own)
            found.append(
                KeptBatch(
                    batch_id=batch_id,
                    jobs=len(own),
                    counts=dict(counts),
                    created_at=min((job.created_at for job in own), default=None),
                    s3_bytes=sum(account_size(d) for d in self._s3_directories(batch_id)),
                    log_bytes=account_size(log_directory(self.path) / segment(batch_id)),
                )
            )
        return sorted(found, key=lambda b: (b.created_at is None, b.created_at or 0, b.batch_id))

    def size(self) -> int:
        """What the whole account takes on disk.

        Returns:
            Its files' bytes.
        """
        return account_size(self.path)

    def forget(self, batch_id: str) -> KeptBatch | None:
        """Remove a batch: its jobs and job definition, its objects, its logs.

        Args:
            batch_id: the batch (`<name>_<uuid>`).

        Returns:
            What was removed; None if the account keeps no such batch.

        Raises:
            AccountInUseError: a process holds the account (stop it first).
            AccountFormatError: a file of the account is from a newer pcr-sdk, or damaged.
        """
        with self._held():
            found = next((b for b in self.batches() if b.batch_id == batch_id), None)
            if found is None:
                return None
            journal = EngineJournal(self.path)
            kept = forget(
                journal.load(),
                job=lambda job: batch_of(job) == batch_id,
                definition=lambda d: d.tags.get(facts.TAG_BATCH_ID) == batch_id,
            )
            compact(self.path, kept)
            for directory in self._s3_directories(batch_id):
                shutil.rmtree(directory, ignore_errors=True)
            shutil.rmtree(log_directory(self.path) / segment(batch_id), ignore_errors=True)
            return found

    def reset(self) -> None:
        """Forget everything kept here but the keys (export lines holding them stay valid).

        Raises:
            AccountInUseError: a process holds the account (stop it first).
        """
        if not self.path.exists():
            return
        with self._held():
            for entry in self.path.iterdir():
                if entry.name in _KEPT_FILES:
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()

    # -- helpers -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _held(self) -> Iterator[None]:
        if not self.path.is_dir():
            yield
            return
        lock = HolderLock.take(self.path)
        if lock is None:
            raise in_use(self.path, published(self.path))
        try:
            with contextlib.suppress(FileNotFoundError):  # left by a holder that was killed
                (self.path / ENDPOINT_FILE).unlink()
            yield
        finally:
            lock.release()

    def _mirror(self) -> S3Mirror:
        return S3Mirror(self.path / S3_DIRECTORY, BucketOwner(self.path))

    def _s3_directories(self, batch_id: str) -> list[Path]:
        mirror = self._mirror()
        found = []
        for bucket, _ in mirror.kept_buckets():
            directory = mirror.root / segment(bucket) / JOBS_ROOT / segment(batch_id)
            if directory.is_dir():
                found.append(directory)
        return found

    def _s3_batches(self) -> set[str]:
        """The batch ids objects are kept under (`jobs/<batch_id>/...`), in any bucket."""
        mirror = self._mirror()
        found: set[str] = set()
        for bucket, _ in mirror.kept_buckets():
            root = mirror.root / segment(bucket) / JOBS_ROOT
            if root.is_dir():
                found |= {e.name for e in root.iterdir() if e.is_dir() and "%" not in e.name}
        return found
