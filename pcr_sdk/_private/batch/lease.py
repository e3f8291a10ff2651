"""One rerun at a time: the batch's rerun lease, an object in its bucket taken with S3's
conditional writes.

`jobs/<batch_id>/rerun-lease.json` is created with `If-None-Match: *` (only if absent) and
replaced with `If-Match: <ETag>` (only the version read), so of two processes that race for it
exactly one wins, whatever their clocks say. A lease runs out `seconds` after it was last
written, by S3's clock: its LastModified against the Date of S3's answer, never the holder's
clock. The holder renews it with its session's heartbeat and releases it when its session ends
(the object then says "released"); a lease that ran out, or was released, may be taken over.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pcr_sdk._private.errors import AwsError, RerunLeaseHeldError
from pcr_sdk._private.public import public
from pcr_sdk._private.services.store import InputStore
from pcr_sdk._private.wire.facts import CONDITION_FAILED_ERROR_CODES

logger = logging.getLogger(__name__)

LEASE_VERSION: Final = 1
MAX_LEASE_BYTES: Final = 4096
HELD: Final = "held"
RELEASED: Final = "released"


@public("pcr_sdk")
@dataclass(frozen=True)
class RerunLease:
    """A batch's rerun lease as read from its bucket: who may rerun its jobs, until when."""

    holder: str
    """Who took it: user, host, process and session."""
    written_at: datetime
    """When it was last taken or renewed, by S3's clock."""
    expires_at: datetime
    """When it runs out unless renewed, by S3's clock."""
    held: bool
    """False once its holder released it (or someone broke it)."""
    expired: bool
    """Whether it had run out when it was read (its holder stopped renewing it)."""
    etag: str
    """The version read: `JobSubmitter.break_rerun_lease` breaks exactly this version."""

    @property
    def in_force(self) -> bool:
        """Held and not run out: nobody else may rerun the batch now."""
        return self.held and not self.expired


class _LeaseJson(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", strict=True)

    version: int
    batch_id: Annotated[str, Field(max_length=256)]
    holder: Annotated[str, Field(max_length=512)]
    session: Annotated[str, Field(max_length=64)]
    seconds: Annotated[float, Field(gt=0, le=10**6, allow_inf_nan=False)]
    state: Literal["held", "released"]


def condition_failed(err: AwsError) -> bool:
    """Whether S3 refused a conditional write because its condition did not hold."""
    return err.code in CONDITION_FAILED_ERROR_CODES


class LeaseKeeper:
    """Takes, renews, releases and breaks one batch's rerun lease for this process."""

    def __init__(self, store: InputStore, *, seconds: float, holder: str) -> None:
        self._store = store
        self._seconds = seconds
        self._holder = holder
        self._etag: str | None = None
        self._session = ""
        self._writes = 0

    @property
    def held(self) -> bool:
        """Whether this process holds the lease (as far as it knows: a break shows at the
        next renewal)."""
        return self._etag is not None

    def look(self) -> RerunLease | None:
        """The lease as the bucket holds it now (one listing, one GET); None if there is none.

        Returns:
            The lease, judged by S3's clock.
        """
        return self._look()[0]

    def _look(self) -> tuple[RerunLease | None, str]:
        key = self._store.layout.lease_key
        listing = self._store.list_detailed(key)
        found = next((obj for obj in listing.objects if obj.key == key), None)
        if found is None:
            return None, ""
        now = listing.server_time or datetime.now(timezone.utc)
        body = self._store.get_bytes(key, max_bytes=MAX_LEASE_BYTES)
        try:
            if len(body) > MAX_LEASE_BYTES:
                raise ValueError("too long")
            lease = _LeaseJson.model_validate_json(body)
        except (ValidationError, ValueError):
            logger.warning("the rerun lease %s is unreadable; it counts as held", key)
            lease = _LeaseJson(version=LEASE_VERSION, batch_id="?", holder="(unreadable lease)",
                               session="", seconds=self._seconds, state=HELD)  # fmt: skip
        expires = found.last_modified + timedelta(seconds=lease.seconds)
        holder = f"{lease.holder}, session {lease.session}" if lease.session else lease.holder
        view = RerunLease(
            holder=holder, written_at=found.last_modified, expires_at=expires,
            held=lease.state == HELD, expired=now >= expires, etag=found.etag,
        )  # fmt: skip
        return view, lease.session

    def acquire(self, session: str) -> None:
        """Take the lease for `session` (nothing if this process holds it already).

        Args:
            session: the session of this process that reruns.

        Raises:
            RerunLeaseHeldError: another process holds it and it has not run out.
            AwsError: S3 could not be read or written.
        """
        if self._etag is not None:
            self.renew()
            if self._etag is not None:
                return
        self._session = session
        try:
            self._etag = self._write(HELD, absent=True)
            return
        except AwsError as err:
            if not condition_failed(err):
                raise
        lease: RerunLease | None = None
        for _ in range(3):
            lease, owner = self._look()
            if lease is not None and lease.held and owner == session:
                self._etag = lease.etag  # ours: the answer of our own write was lost
                return
            if lease is not None and lease.in_force:
                break
            try:
                if lease is None:
                    self._etag = self._write(HELD, absent=True)
                else:
                    self._etag = self._write(HELD, etag=lease.etag)
                return
            except AwsError as err:
                if not condition_failed(err):
                    raise
        raise self._held_error(lease)

    def renew(self) -> None:
        """Write the lease again (its LastModified moves on); if another process broke it,
        this process no longer holds it (logged)."""
        if self._etag is None:
            return
        try:
            self._etag = self._write(HELD, etag=self._etag)
        except AwsError as err:
            if not condition_failed(err):
                raise
            self._etag = None
            logger.warning("batch %s: the rerun lease was broken by another process",
                           self._store.layout.batch_id)  # fmt: skip

    def release(self) -> None:
        """Mark the lease released, if this process still holds it."""
        if self._etag is None:
            return
        try:
            self._write(RELEASED, etag=self._etag)
        except AwsError as err:
            if not condition_failed(err):
                raise
        self._etag = None

    def break_lease(self, lease: RerunLease, *, by: str) -> bool:
        """Release `lease` on behalf of its holder (who stopped renewing it), only if it is
        still the version read; whether it was broken."""
        try:
            self._write(RELEASED, etag=lease.etag, holder=f"broken by {by}")
        except AwsError as err:
            if not condition_failed(err):
                raise
            return False
        logger.warning("batch %s: broke the rerun lease of %s", self._store.layout.batch_id,
                       lease.holder)  # fmt: skip
        return True

    def _write(
        self, state: str, *, absent: bool = False, etag: str | None = None, holder: str = ""
    ) -> str:
        # each write's body differs (its count): the ETag (the body's MD5) changes with every
        # renewal, so a break or a takeover that read an older version fails S3's If-Match
        self._writes += 1
        document = {
            "version": LEASE_VERSION, "batch_id": self._store.layout.batch_id,
            "holder": holder or self._holder, "session": self._session,
            "seconds": self._seconds, "state": state, "write": self._writes,
        }  # fmt: skip
        return self._store.put_json_if(
            self._store.layout.lease_key, document, absent=absent, etag=etag
        )

    def _held_error(self, lease: RerunLease | None) -> RerunLeaseHeldError:
        batch_id = self._store.layout.batch_id
        holder = lease.holder if lease else "another process"
        expires = lease.expires_at if lease else datetime.now(timezone.utc)
        return RerunLeaseHeldError(
            f"batch {batch_id} is being rerun by {holder}: its rerun lease runs until "
            f"{expires:%Y-%m-%d %H:%M:%S} UTC (S3's clock) unless renewed. Try again later, "
            f"or break a stale lease with `pcr retry {batch_id} --break-lease`.",
            batch_id=batch_id,
            holder=holder,
            expires_at=expires,
        )
