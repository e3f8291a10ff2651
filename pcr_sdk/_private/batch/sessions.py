"""Who may still submit to a batch: the sessions recorded in its manifest.

A batch lives in S3 and AWS Batch, not in one process, so whether it is over is written down
where every process can read it. A process opens a session when it may submit: the creator
when it is constructed, any other process when it takes the rerun lease. The session's open
record (`manifest/session-<id>.json`) is rewritten as its heartbeat while the process lives;
when the process stops submitting (a wait saw its jobs finish, `close()`, `cancel()`,
`detach()`) it writes the closed record (`manifest/session-<id>-closed.json`).

The batch is *closed* when every session is closed or stale: its open record was not
rewritten for `stale_after_seconds`, by S3's clock (its LastModified against the Date of S3's
answer) or by the reading process's own clock (since it first saw that version of the record).
A batch without any session record (one pcr-sdk wrote before sessions) counts as closed. Whoever
sees the batch closed and every job finished deregisters its job definition.

Both records are version-2 manifest chunks without jobs: older readers read them and ignore them.
"""

from __future__ import annotations

import getpass
import logging
import os
import socket
import threading
import uuid
import weakref
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Final

from pcr_sdk._private.batch.lease import LeaseKeeper
from pcr_sdk._private.batch.manifest import SESSION_KEY, Manifest
from pcr_sdk._private.errors import PcrError
from pcr_sdk._private.seams import Clock
from pcr_sdk._private.services.store import Listing, StoredObject

logger = logging.getLogger(__name__)

CREATOR: Final = "creator"
"""The session of the process that started the batch."""
RERUN: Final = "rerun"
"""The session of another process, opened when it takes the rerun lease."""
ATTACHED: Final = "attached"
"""The session of another process, opened when it first submits a job."""


def holder_name() -> str:
    """`user@host pid N`: who this process is, for people reading a record or an error."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        user = "unknown"
    return f"{user}@{socket.gethostname()} pid {os.getpid()}"


@dataclass(frozen=True)
class BatchState:
    """What the manifest's session records say about a batch right now."""

    live: tuple[str, ...]
    """Sessions open and heart-beating: their processes may still submit."""
    stale: tuple[str, ...]
    """Sessions never closed whose heartbeat stopped (a process that died): they count as
    closed."""
    ended: tuple[str, ...]
    """Sessions closed."""

    @property
    def closed(self) -> bool:
        """Nobody may submit any more: every session is closed or stale."""
        return not self.live


class Presence:
    """This process's part in a batch: its session and, while it reruns, the rerun lease."""

    def __init__(self, session: Session, lease: LeaseKeeper) -> None:
        self.session = session
        self.lease = lease

    def take_lease(self) -> bool:
        """Take the rerun lease (`RerunLeaseHeldError` if another process holds it), then open
        this process's session if it is not open (a rerun may submit); whether it opened it."""
        self.lease.acquire(self.session.id)
        if self.session.is_open:
            return False
        try:
            self.session.open(RERUN)
        except BaseException:
            self.lease.release()
            raise
        return True

    def give_back(self, opened: bool) -> None:
        """A rerun that had nothing to do: release the lease, and close the session if
        `take_lease` opened it."""
        if opened:
            self.session.close()
        self.lease.release()

    def stop(self) -> None:
        """This process submits no more: close its session, then release the lease."""
        self.session.close()
        self.lease.release()


class SessionBook:
    """Reads the sessions of one batch from listings of its manifest, and remembers since
    when (by its own clock) each open record has not been rewritten."""

    def __init__(self, clock: Clock, stale_after_seconds: float) -> None:
        self._clock = clock
        self._stale_after = stale_after_seconds
        self._since: dict[str, tuple[object, float]] = {}  # session -> (version, first seen)
        self.seen_others = False
        """Whether a listing ever showed a session of another process."""

    def state(self, listing: Listing, *, own: Collection[str] = ()) -> BatchState:
        """The state of the batch as `listing` shows it; `own` (this process's sessions: it
        knows whether one is open) are left out."""
        opened: dict[str, StoredObject] = {}
        ended: set[str] = set()
        for obj in listing.objects:
            match = SESSION_KEY.fullmatch(obj.key.rsplit("/", 1)[-1])
            if match is None or match.group(1) in own:
                continue
            self.seen_others = True
            if match.group(2):
                ended.add(match.group(1))
            else:
                opened[match.group(1)] = obj
        now = self._clock()
        live: list[str] = []
        stale: list[str] = []
        for session, record in sorted(opened.items()):
            if session in ended:
                continue
            # a heartbeat rewrites the same body: the ETag (its MD5) stays, LastModified moves
            version = (record.etag, record.last_modified)
            seen, since = self._since.get(session, (None, now))
            if seen != version:
                self._since[session] = (version, now)
                since = now
            by_s3 = listing.server_time is not None and (
                (listing.server_time - record.last_modified).total_seconds() > self._stale_after
            )
            (stale if by_s3 or now - since > self._stale_after else live).append(session)
        return BatchState(tuple(live), tuple(stale), tuple(sorted(ended)))


class Session:
    """This process's session of one batch: open while it may submit, renewed by a heartbeat
    thread (a daemon that holds the session only weakly, and stops when it is closed or
    garbage collected; `thread=False`: none, the caller calls `beat`)."""

    def __init__(
        self,
        manifest: Manifest,
        *,
        heartbeat_seconds: float,
        on_beat: Callable[[], None] = lambda: None,
        id_factory: Callable[[], str] = lambda: uuid.uuid4().hex[:16],
        thread: bool = True,
    ) -> None:
        self._manifest = manifest
        self._heartbeat = heartbeat_seconds
        self._on_beat = on_beat
        self._new_id = id_factory
        self._thread = thread
        self._lock = threading.Lock()
        self.id = id_factory()
        """The id of the open session, or of the next one (each session has its own): its
        records' names, and the lease holder's."""
        self.ids = {self.id}
        """Every id this process's sessions had (or will have next)."""
        self.role = ""
        self._open = False
        self._ending = False
        """Closing it failed: its closed record may be in S3 all the same (a lost answer)."""
        self._stop = threading.Event()

    @property
    def is_open(self) -> bool:
        """Whether this process's session is open (it may submit); not once closing it was
        tried, even if that failed."""
        return self._open and not self._ending

    def open(self, role: str) -> None:
        """Write the open record (nothing if open already) and start the heartbeat. A session
        whose closing failed is closed first (its closed record may be in S3 already, and its
        heartbeat stopped: reused, other processes would read it as ended while this one
        submits), then a new one opens.

        Args:
            role: why this process may submit (`CREATOR`, `ATTACHED` or `RERUN`).

        Raises:
            AwsError: a record could not be written (the session stays as it was).
        """
        with self._lock:
            if self._open and self._ending:
                self._close()
            if self._open:
                return
            self.role = role
            self._write(closed=False)
            self._open = True
            self._stop = threading.Event()
            stop = self._stop
        if not self._thread:
            return
        thread = threading.Thread(
            target=_beat, args=(weakref.ref(self), stop, self._heartbeat),
            name=f"pcr-heartbeat-{self.id}", daemon=True,
        )  # fmt: skip
        weakref.finalize(self, stop.set)
        thread.start()

    def beat(self) -> None:
        """Rewrite the open record (its new LastModified is the heartbeat), then `on_beat`."""
        with self._lock:
            if not self.is_open:
                return
            self._write(closed=False)
        self._on_beat()

    def close(self) -> None:
        """Stop the heartbeat and write the closed record (nothing if not open). If writing
        fails the session is left closing, never reused: the next `close` or `open` writes the
        closed record again (its heartbeat stays stopped: it goes stale in the end)."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        if not self._open:
            return
        self._stop.set()
        self._ending = True
        self._write(closed=True)
        self._open = self._ending = False
        self.id = self._new_id()  # a closed session stays closed: the next one is new
        self.ids.add(self.id)

    def _write(self, *, closed: bool) -> None:
        description = {
            "id": self.id, "role": self.role, "state": "closed" if closed else "open",
            "holder": holder_name(),
        }  # fmt: skip
        self._manifest.write_session(self.id, description, closed=closed)


def _beat(ref: weakref.ref[Session], stop: threading.Event, interval: float) -> None:
    """The heartbeat thread: beat every `interval` seconds until stopped or the session goes."""
    while not stop.wait(interval):
        session = ref()
        if session is None:
            return
        try:
            session.beat()
        except PcrError as err:  # the next beat tries again; a stale session ends the batch
            logger.warning("session %s: heartbeat not written (%s)", session.id, err)
        del session
