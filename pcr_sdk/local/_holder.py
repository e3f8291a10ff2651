"""One holder at a time: the lock on a kept account, and the endpoint its holder publishes.

The process that opens a data directory takes an exclusive `flock` on `<data_dir>/lock` for as
long as it keeps the account open; the kernel drops it when the process ends, however it ends
(a SIGKILL too), so a lock is never stale. The holder then publishes how to reach it in
`<data_dir>/endpoint` (next to the keys in `<data_dir>/credentials`): another process finds the
lock held, reads the endpoint and talks to the holder over HTTP, signed with the directory's
keys. An endpoint file whose lock is free is a leftover of a holder that was killed: ignored,
and replaced by the next holder.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

from pcr_sdk._private.public import public
from pcr_sdk.local._files import (
    PRIVATE_FILE,
    AccountFormatError,
    LocalAccountError,
    dump_record,
    read_record,
    write_atomically,
)

if sys.platform != "win32":
    import fcntl

LOCK_FILE: Final = "lock"
ENDPOINT_FILE: Final = "endpoint"
FORMAT: Final = "pcr-local-holder"
VERSION: Final = 1
TAKE_TRIES: Final = 25
"""A prober holds the lock for microseconds: a would-be holder tries this often, 20 ms apart."""
_TRY_PAUSE: Final = 0.02


@public("pcr_sdk.local")
@dataclass(frozen=True)
class Holder:
    """The process keeping a local account open, as it published itself."""

    url: str
    """Its endpoint (S3, AWS Batch, CloudWatch Logs), e.g. `http://127.0.0.1:4575`."""
    pid: int
    """Its process id."""
    started_at: float
    """When it opened the account, in seconds since the epoch."""
    runs_jobs: bool
    """False for a process that opened the account only to read or change it (no job starts)."""
    bucket: str
    """Its job bucket."""
    queue: str
    """Its job queue's name."""
    region: str
    """The region its clients are made for."""
    program: str
    """What it is: its command line, shortened."""


@public("pcr_sdk.local")
class AccountInUseError(LocalAccountError):
    """Another process (or another backend of this one) holds the account."""

    def __init__(self, message: str, *, path: Path, holder: Holder | None) -> None:
        super().__init__(message, path=path)
        self.holder = holder


def program_name(argv: list[str] | None = None) -> str:
    """This process's command line, at most 120 characters (`pcr local serve --port 4575`)."""
    args = list(sys.argv if argv is None else argv)
    if args and os.path.basename(args[0]) in ("pcr", "__main__.py"):
        args[0] = "pcr"
    elif args and args[0] == "-c":
        args[0] = "python -c ..."
    text = " ".join(args) or "python"
    return text if len(text) <= 120 else text[:117] + "..."


class HolderLock:
    """The exclusive lock on an account, held from `take` until `release`."""

    def __init__(self, directory: Path, fd: int) -> None:
        self.directory = directory
        self._fd: int | None = fd
        self._published = False

    @classmethod
    def take(
        cls, directory: Path, *, sleep: Callable[[float], None] = time.sleep
    ) -> HolderLock | None:
        """The lock of `directory` (created if missing), or None while another process holds it.

        Args:
            directory: the account's directory.
            sleep: how to wait between tries (injected by tests).

        Returns:
            The lock, or None.

        Raises:
            LocalAccountError: this platform has no `flock` (Windows).
        """
        if sys.platform == "win32":  # pragma: no cover - the suite runs on Linux
            raise LocalAccountError(
                "keeping a local account needs flock (Linux, macOS)", path=directory
            )
        fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, PRIVATE_FILE)
        for attempt in range(TAKE_TRIES):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if attempt + 1 < TAKE_TRIES:
                    sleep(_TRY_PAUSE)
                continue
            except BaseException:
                os.close(fd)
                raise
            return cls(directory, fd)
        os.close(fd)
        return None

    def publish(self, holder: Holder) -> None:
        """Tell other processes where this holder answers."""
        write_atomically(
            self.directory / ENDPOINT_FILE, dump_record(FORMAT, VERSION, asdict(holder))
        )
        self._published = True

    def unpublish(self) -> None:
        """Stop announcing the endpoint (first thing when closing: nobody joins a closing one)."""
        if self._published:
            self._published = False
            with contextlib.suppress(FileNotFoundError):
                (self.directory / ENDPOINT_FILE).unlink()

    def release(self) -> None:
        """Unpublish, then drop the lock (idempotent)."""
        self.unpublish()
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the only descriptor drops the flock


def is_held(directory: Path) -> bool:
    """Whether a process holds `directory`'s lock now (False if there is no lock file)."""
    if sys.platform == "win32":  # pragma: no cover - the suite runs on Linux
        return False
    try:
        fd = os.open(directory / LOCK_FILE, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also drops the shared lock, if it was granted
    return False


def published(directory: Path) -> Holder | None:
    """The endpoint `directory`'s holder published, if there is one (no liveness check).

    Args:
        directory: the account's directory.

    Returns:
        The holder, or None.

    Raises:
        AccountFormatError: the file is from a newer pcr-sdk or damaged.
    """
    path = directory / ENDPOINT_FILE
    record = read_record(path, fmt=FORMAT, version=VERSION)
    if record is None:
        return None
    try:
        return Holder(
            url=str(record["url"]),
            pid=int(record["pid"]),
            started_at=float(record["started_at"]),
            runs_jobs=bool(record["runs_jobs"]),
            bucket=str(record["bucket"]),
            queue=str(record["queue"]),
            region=str(record["region"]),
            program=str(record["program"]),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise AccountFormatError(f"{path}: not a holder's endpoint: {err}", path=path) from err


def live_holder(directory: Path) -> Holder | None:
    """The holder of `directory` if one runs and has published its endpoint, else None."""
    holder = published(directory)
    if holder is None or not is_held(directory):
        return None
    return holder
