"""A kept account, held by the backend that opened it: lock, settings, S3 mirror, journal.

`KeptAccount.open` takes the directory's lock, writes the backend's settings, claims the
account's buckets in this process and puts the kept S3 objects back into moto, and reads the
engine's journal. `restore` hands the kept definitions and jobs to the engine (ending the
attempts an earlier holder was running, as a host that went away), compacts the journal and
keeps it from then on. `close` puts the buckets out of moto again and drops the lock.

The directory (created mode 0700):

    credentials        the backend's keys (mode 0600; `_credentials`)
    lock               the holder's flock; endpoint: how to reach the holder (`_holder`)
    settings.json      how jobs run (`_account_settings`)
    engine/            the engine's journal (`_journal`)
    s3/                the S3 mirror (`_s3mirror`)
    logs/              one file per attempt (`_logs`)
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from pcr_sdk._private.wire import facts
from pcr_sdk.local import _account_settings
from pcr_sdk.local import _moto_s3 as moto
from pcr_sdk.local._account_settings import BackendSettings
from pcr_sdk.local._engine import BatchEngine
from pcr_sdk.local._files import private_directory
from pcr_sdk.local._holder import (
    ENDPOINT_FILE,
    AccountInUseError,
    Holder,
    HolderLock,
    published,
)
from pcr_sdk.local._journal import EngineJournal, KeptEngine
from pcr_sdk.local._logs import LogStore
from pcr_sdk.local._model import Attempt, Job
from pcr_sdk.local._s3mirror import S3_DIRECTORY, BucketOwner, S3Mirror

logger = logging.getLogger(__name__)

LOGS_DIRECTORY: Final = "logs"
HOLDER_ENDED: Final = "The local backend holding the job{who} ended while it ran."
"""Added to AWS's host-terminated reason of an attempt an earlier holder was running."""


def in_use(directory: Path, holder: Holder | None) -> AccountInUseError:
    who = (
        f"{holder.program} (process {holder.pid}, {holder.url})"
        if holder is not None
        else "another process (or another backend of this one)"
    )
    return AccountInUseError(
        f"the local account in {directory} is held by {who}: one holder at a time. Talk to it "
        "(pcr ... --local joins it), wait for it to end, or use another data directory.",
        path=directory,
        holder=holder,
    )


class KeptAccount:
    """The account in a data directory, held by this process until `close`."""

    def __init__(self, directory: Path, lock: HolderLock, owner: BucketOwner) -> None:
        self.directory = directory
        self.lock = lock
        self.owner = owner
        self.mirror = S3Mirror(directory / S3_DIRECTORY, owner)
        self.journal = EngineJournal(directory)
        self.engine = KeptEngine()
        self.earlier: Holder | None = None
        """What the last holder published, if it ended without taking it back (a kill)."""

    @classmethod
    def open(
        cls,
        directory: Path,
        *,
        settings: BackendSettings | None,
        bucket: str,
        sleep: Callable[[float], None] = time.sleep,
    ) -> KeptAccount:
        """Hold `directory` (made if missing), write `settings` (unless None: reopened), put
        the kept S3 objects into moto and read the engine's journal.

        Args:
            directory: the account's directory.
            settings: the constructor's arguments to keep (None: keep what is there).
            bucket: the backend's bucket, claimed with the kept ones.
            sleep: how to wait for the lock between tries.

        Returns:
            The account, held.

        Raises:
            AccountInUseError: another process, or backend, holds it.
            AccountConflictError: another backend of this process uses one of its buckets.
            AccountFormatError: a file of it is from a newer pcr-sdk, or damaged.
        """
        private_directory(directory)
        lock = HolderLock.take(directory, sleep=sleep)
        if lock is None:
            raise in_use(directory, published(directory))
        account = cls(directory, lock, BucketOwner(directory))
        try:
            account.earlier = published(directory)
            with contextlib.suppress(FileNotFoundError):  # a killed holder's: nobody joins it
                (directory / ENDPOINT_FILE).unlink()
            if settings is not None:
                _account_settings.save(directory, settings)
            kept = account.mirror.kept_buckets()
            for name in dict.fromkeys([name for name, _ in kept] + [bucket]):
                account.owner.claim(name, fresh=True)
            count = account.mirror.replay(kept)
            account.engine = account.journal.load()
            logger.info(
                "local account %s: %d bucket(s), %d object(s), %d job(s) kept",
                directory,
                len(kept),
                count,
                len(account.engine.every_job()),
            )
        except BaseException:
            account.close()
            raise
        return account

    def restore(self, engine: BatchEngine, logs: LogStore) -> None:
        """Hand the kept state to `engine` (and the kept log streams to `logs`), then journal."""
        for job in self.engine.every_job():
            for attempt in (*job.attempts, job.current):
                if attempt is not None and attempt.log_stream:
                    logs.adopt(attempt.log_stream)
        engine.restore(self.engine, cut_off=self._cut_off(logs))
        self.journal.open(self.engine)
        engine.keep(self.journal)

    def _cut_off(self, logs: LogStore) -> Callable[[Job, Attempt], int]:
        earlier = self.earlier
        who = "" if earlier is None else f" (process {earlier.pid})"
        instance = f"i-{secrets.token_hex(9)[:17]}"
        reason = f"{facts.HOST_TERMINATED_REASON_FORMAT.format(instance_id=instance)} "
        reason += HOLDER_ENDED.format(who=who)

        def cut_off(job: Job, attempt: Attempt) -> int:
            del job
            attempt.host_reason = reason
            attempt.reason = f"the local backend{who} that ran this attempt ended"
            last = logs.adopt(attempt.log_stream) if attempt.log_stream else None
            seen = max(self.engine.last_write_ms, last or 0, attempt.started_at or 0)
            return min(seen, int(time.time() * 1000)) if seen else int(time.time() * 1000)

        return cut_off

    def close(self) -> None:
        """Close the journal, put the account's buckets out of moto, drop the lock."""
        self.journal.close()
        for bucket in self.owner.owned():
            with contextlib.suppress(KeyError):
                moto.forget_bucket(bucket)
            self.owner.release(bucket)
        self.lock.release()


def log_directory(directory: Path) -> Path:
    return directory / LOGS_DIRECTORY


def account_size(directory: Path) -> int:
    """Bytes under `directory` (its files, not the directories themselves)."""
    total = 0
    for base, _, names in os.walk(directory):
        for name in names:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(base, name)).st_size
    return total
