"""The durable manifest: what a new process needs to rebuild a batch, kept in the job bucket.

Records go out as immutable chunk objects `jobs/<batch_id>/manifest/<first index>-<token>.json`,
each a self-contained JSON document (the batch record plus some jobs). Nothing is ever read,
modified and written back, so a crash at any instant leaves the manifest consistent: it lacks at
most the records not flushed yet, and those jobs are found again in AWS Batch by name and tag
(`find_batch_jobs`). Flushes happen every `flush_every` jobs, after every array job, before a
wait and on close.

Version 2 (this one) records attempts: each job entry carries its attempt (1, or the rerun's
`pcr:attempt`), an array entry its attempt and, for a rerun of array children, its index table
(child i -> job index); a chunk may reserve an attempt number before a rerun uses it. Version 1
chunks (every job attempt 1) are still read; any other version raises `ManifestVersionError`.

The manifest is untrusted input (a job, or anyone who may write the bucket, can write there):
every chunk must name this batch; ids, indexes, sizes, attempts and dependencies must be within
AWS's limits and consistent with each other and with the chunks read before; a chunk's size
is bounded before it is read, an array's before its children exist, and the whole manifest's
entries before any is expanded. A chunk that breaks a rule raises `ManifestError` naming it,
and nothing of the chunks being read is taken.

Session records (`session-<id>.json`, `session-<id>-closed.json`) say who may still submit
(`batch/sessions.py`): version-2 chunks without jobs, which older readers read and ignore.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from pcr_sdk._private.errors import AwsError, ManifestError, ManifestVersionError
from pcr_sdk._private.model.results import SubmittedJob
from pcr_sdk._private.services.store import InputStore, Listing, StoredObject
from pcr_sdk._private.wire.facts import (
    MAX_ARRAY_SIZE,
    MAX_DEPENDENCIES,
    MAX_JOBS_IN_SUBMITTED,
    MIN_ARRAY_SIZE,
)
from pcr_sdk._private.wire.layout import BatchLayout

logger = logging.getLogger(__name__)

VERSION: Final = 2
READABLE_VERSIONS: Final = frozenset({1, 2})
DEFAULT_FLUSH_EVERY: Final = 100
MAX_CHUNK_BYTES: Final = 4 * 1024**2
"""A chunk is read only up to this size (pcr-sdk writes chunks of a few KiB; a rerun array's
index table of 10,000 children is under 100 KiB)."""
MAX_ENTRIES: Final = MAX_JOBS_IN_SUBMITTED
"""Job entries (array children included, every attempt) a whole manifest may describe."""
MAX_INDEX: Final = MAX_ENTRIES
"""Job indexes are below this."""
MAX_ATTEMPT: Final = 10_000
"""Rerun attempts are at most this (each `resubmit_failed` call uses one)."""
SESSION_KEY: Final = re.compile(r"session-([0-9a-f]{8,32})(-closed)?\.json")
"""Session records, by name below `manifest/`: `session-<id>.json` is rewritten as its
heartbeat, `session-<id>-closed.json` written once when the session ends."""

JobId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")]
"""An AWS Batch job id (a UUID on AWS) of a plain job or an array parent (a child's id is its
parent's with `:<i>`, never recorded on its own)."""
Index = Annotated[int, Field(strict=True, ge=0, lt=MAX_INDEX)]
Attempt = Annotated[int, Field(strict=True, ge=1, le=MAX_ATTEMPT)]
Size = Annotated[int, Field(strict=True, ge=MIN_ARRAY_SIZE, le=MAX_ARRAY_SIZE)]
Dependencies = Annotated[list[JobId], Field(max_length=MAX_DEPENDENCIES)]
Table = Annotated[list[Index], Field(max_length=MAX_ARRAY_SIZE)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=2048)]


@dataclass(frozen=True)
class BatchRecord:
    """The batch itself: enough to find its jobs, its definition and its data again."""

    batch_id: str
    job_queue: str
    job_bucket: str
    job_definition: str

    def to_json(self) -> dict[str, str]:
        return {
            "batch_id": self.batch_id,
            "job_queue": self.job_queue,
            "job_bucket": self.job_bucket,
            "job_definition": self.job_definition,
        }


@dataclass(frozen=True)
class ArrayRecord:
    """An array job: child i is job `base_index + i`, or with an index table `indexes[i]`."""

    array_id: str
    base_index: int
    size: int
    depends_on: tuple[str, ...] = ()
    attempt: int = 1
    indexes: tuple[int, ...] = ()
    """Child i's job index, for an array with an index table (a rerun); else empty."""

    def __post_init__(self) -> None:
        if self.indexes and len(self.indexes) != self.size:
            raise ValueError(f"array {self.array_id}: {len(self.indexes)} indexes for {self.size}")

    def index_of(self, child: int) -> int:
        return self.indexes[child] if self.indexes else self.base_index + child

    def children(self) -> list[SubmittedJob]:
        return [
            SubmittedJob(
                f"{self.array_id}:{i}",
                self.index_of(i),
                self.depends_on,
                self.array_id,
                self.attempt,
            )
            for i in range(self.size)
        ]

    def inputs_key(self, layout: BatchLayout) -> str:
        """Where the array's packed inputs are."""
        if self.indexes:
            return layout.indexed_inputs_key(self.base_index, self.attempt)
        return layout.array_inputs_key(self.base_index)


class _BatchJson(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    batch_id: Name
    job_queue: Name
    job_bucket: Name
    job_definition: Name


class _VersionJson(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: int


class ChunkJsonV1(BaseModel):
    """One manifest chunk object as pcr-sdk wrote it before reruns (version 1)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    version: int
    batch: _BatchJson
    jobs: list[tuple[JobId, Index, Dependencies]]
    """[job id, index, dependency ids]"""
    arrays: list[tuple[JobId, Index, Size, Dependencies]]
    """[array id, first index, size, dependency ids]"""
    reserved_to: Annotated[int, Field(strict=True, ge=0, le=MAX_INDEX)] | None = None


class ChunkJson(BaseModel):
    """One manifest chunk object, as written to S3 (version 2)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    version: int
    batch: _BatchJson
    jobs: list[tuple[JobId, Index, Dependencies, Attempt]]
    """[job id, index, dependency ids, attempt]"""
    arrays: list[tuple[JobId, Index, Size, Dependencies, Attempt, Table]]
    """[array id, first index, size, dependency ids, attempt, index table]: child i is job
    first index + i, or `index table[i]` when the table is not empty (a rerun)."""
    reserved_to: Annotated[int, Field(strict=True, ge=0, le=MAX_INDEX)] | None = None
    """Every index below this may have been used: written before the jobs are submitted."""
    reserved_attempt: Attempt | None = None
    """A rerun may have used this attempt number: written before it submits anything."""
    session: dict[str, str] | None = None
    """A session record's description (who, which role, open or closed), for people and
    tools; readers go by the record's name and time (older readers ignore it)."""


@dataclass
class LoadedManifest:
    batch: BatchRecord | None = None
    jobs: list[SubmittedJob] = field(default_factory=list)
    arrays: list[ArrayRecord] = field(default_factory=list)
    reserved_to: int = 0
    """No index below this may be given to a new job (some may be in AWS Batch only)."""
    reserved_attempt: int = 1
    """No rerun may use this attempt number or a lower one again."""

    def all_jobs(self) -> list[SubmittedJob]:
        """Plain jobs and array children, every attempt, by index then attempt."""
        found = {job.job_id: job for job in self.jobs}
        for array in self.arrays:
            for child in array.children():
                found.setdefault(child.job_id, child)
        return sorted(found.values(), key=lambda job: (job.index, job.attempt))


class Manifest:
    """Buffers job records and writes them as immutable chunks."""

    def __init__(
        self,
        store: InputStore,
        batch: BatchRecord,
        *,
        flush_every: int = DEFAULT_FLUSH_EVERY,
        token_factory: Callable[[], str] = lambda: uuid.uuid4().hex[:12],
    ) -> None:
        self._store = store
        self.batch = batch
        self.flush_every = flush_every
        self._token = token_factory
        self._jobs: list[SubmittedJob] = []
        self._arrays: list[ArrayRecord] = []
        self._lock = threading.Lock()
        self.reader = ManifestReader(store)
        """Reads what other processes write to the manifest (this one's chunks are skipped)."""

    def add(self, job: SubmittedJob) -> None:
        """Record a plain job; flushes once `flush_every` records wait."""
        with self._lock:
            self._jobs.append(job)
            full = len(self._jobs) >= self.flush_every
        if full:
            self.flush_soon()

    def add_array(self, array: ArrayRecord) -> None:
        """Record an array job (one record for all its children) and flush at once."""
        with self._lock:
            self._arrays.append(array)
        self.flush_soon()

    def flush_soon(self) -> None:
        """Flush during submission; on an AWS error keep the records for the next flush.

        The jobs are in AWS Batch already (found again by name and tag), so a submit call must
        not fail, and leave its caller without the job ids, because a manifest chunk did not go
        out.
        """
        try:
            self.flush()
        except AwsError as err:
            logger.warning("manifest: chunk not written (%s); kept for the next flush", err)

    def reserve(self, reserved_to: int) -> None:
        """Record, before any job gets them, that indexes below `reserved_to` are taken.

        Written at once (a small chunk of its own): a process that crashes after SubmitJob but
        before its jobs reach the manifest leaves at least this behind, so a process that
        attaches while ListJobs does not show those jobs yet still never reuses their indexes.
        """
        self._put(reserved_to, self._chunk([], [], reserved_to=reserved_to))

    def reserve_attempt(self, attempt: int) -> None:
        """Record, before a rerun submits anything, that it may use attempt `attempt`: a
        process attaching while ListJobs does not show the rerun yet never reuses the number."""
        self._put(0, self._chunk([], [], reserved_attempt=attempt))

    def flush(self) -> None:
        """Write what is buffered as one new chunk object; nothing if the buffer is empty."""
        with self._lock:
            jobs, self._jobs = self._jobs, []
            arrays, self._arrays = self._arrays, []
        if not jobs and not arrays:
            return
        first = min([j.index for j in jobs] + [a.base_index for a in arrays])
        try:
            key = self._put(first, self._chunk(jobs, arrays))
        except BaseException:
            with self._lock:  # keep the records for the next flush
                self._jobs[:0] = jobs
                self._arrays[:0] = arrays
            raise
        logger.debug("manifest: wrote %s (%d jobs, %d arrays)", key, len(jobs), len(arrays))

    def _chunk(
        self,
        jobs: list[SubmittedJob],
        arrays: list[ArrayRecord],
        *,
        reserved_to: int | None = None,
        reserved_attempt: int | None = None,
    ) -> ChunkJson:
        return ChunkJson(
            version=VERSION,
            batch=_BatchJson(**self.batch.to_json()),
            jobs=[(j.job_id, j.index, list(j.depends_on), j.attempt) for j in jobs],
            arrays=[
                (a.array_id, a.base_index, a.size, list(a.depends_on), a.attempt, list(a.indexes))
                for a in arrays
            ],
            reserved_to=reserved_to,
            reserved_attempt=reserved_attempt,
        )

    def _put(self, first: int, document: ChunkJson) -> str:
        """Write `document` as a new chunk object named after its first index; its key."""
        key = f"{self._store.layout.manifest_prefix}{first:06d}-{self._token()}.json"
        self.reader.skip(key)
        self._store.put_json(key, document.model_dump(mode="json", exclude_none=True))
        return key

    def write_session(self, session_id: str, description: dict[str, str], *, closed: bool) -> str:
        """Write a session record (a chunk without jobs, which older readers ignore): the open
        one again as its heartbeat, or the closed one; its key."""
        key: str = self._store.layout.session_key(session_id, closed=closed)
        document = self._chunk([], []).model_copy(update={"session": description})
        self._store.put_json(key, document.model_dump(mode="json", exclude_none=True))
        return key

    @staticmethod
    def load(store: InputStore) -> LoadedManifest:
        """Every chunk of the batch's manifest, merged and checked (see `ManifestReader`)."""
        return ManifestReader(store).read_new()


class ManifestReader:
    """Reads a batch's manifest as untrusted input, a chunk at a time, and remembers what it
    read: `read_new()` again reads only the chunks written since (a watcher follows a batch).

    Empty objects and keys ending in "/" (folders made by the S3 console or other tools) are
    skipped, and so are session records (`sessions` reads them from `listing`). A chunk that is
    not a manifest, or breaks a rule (see the module's docstring), raises `ManifestError` naming
    it; one written by a newer pcr-sdk raises `ManifestVersionError` rather than being misread.
    Either way nothing of that read is taken: the next `read_new()` tries the same chunks again.
    """

    def __init__(self, store: InputStore) -> None:
        self._store = store
        self.batch_id = store.layout.batch_id
        self.listing: Listing | None = None
        """The manifest's objects and S3's clock, as the last `read_new()` listed them."""
        self._done: set[str] = set()
        self._places: dict[str, tuple[int, int]] = {}  # job id -> (index, attempt)
        self._slots: dict[tuple[int, int], str] = {}  # (index, attempt) -> job id
        self._arrays: dict[str, ArrayRecord] = {}
        self._reserved_attempt = 1
        self._highest: tuple[int, str] | None = None  # the highest attempt above 1, and where

    def skip(self, key: str) -> None:
        """Never read chunk `key` (this process wrote it: its jobs are known already)."""
        self._done.add(key)

    def read_new(self, check: Callable[[], object] = lambda: None) -> LoadedManifest:
        """The chunks not read before, merged and checked against those read before;
        `check()` runs before each request (a wait's deadline).

        Args:
            check: runs before each request (raises when a deadline passed).

        Returns:
            What the new chunks record (nothing known before is repeated).

        Raises:
            ManifestError: a chunk is not a manifest or breaks a rule (it names the chunk);
                nothing of this read is taken.
            AwsError: listing or reading the manifest failed.
        """
        check()
        listing = self._store.list_detailed(self._store.layout.manifest_prefix)
        self.listing = listing
        fresh = [obj for obj in listing.objects if obj.key not in self._done and _chunk_like(obj)]
        rules = _Check(self)
        loaded = LoadedManifest()
        for obj in fresh:
            if obj.size > MAX_CHUNK_BYTES:
                raise ManifestError(
                    f"manifest chunk {obj.key} is {obj.size} bytes; a chunk is at most "
                    f"{MAX_CHUNK_BYTES} (not read)",
                    key=obj.key,
                )
            check()
            body = self._store.get_bytes(obj.key, max_bytes=MAX_CHUNK_BYTES)
            if len(body) > MAX_CHUNK_BYTES:  # replaced by a larger one since the listing
                raise ManifestError(
                    f"manifest chunk {obj.key} is over {MAX_CHUNK_BYTES} bytes (not read)",
                    key=obj.key,
                )
            chunk = _parse_chunk(obj.key, body, self.batch_id)
            jobs, arrays = rules.chunk(obj.key, chunk)
            loaded.batch = loaded.batch or BatchRecord(**chunk.batch.model_dump())
            loaded.jobs += jobs
            loaded.arrays += arrays
            loaded.reserved_to = max(loaded.reserved_to, chunk.reserved_to or 0)
            loaded.reserved_attempt = max(loaded.reserved_attempt, chunk.reserved_attempt or 1)
        rules.finish()
        self._done.update(obj.key for obj in fresh)
        return loaded


class _Check:
    """One `read_new`'s checks: builds on the reader's tables, which it updates only when
    every chunk of the read passed (`finish`)."""

    def __init__(self, reader: ManifestReader) -> None:
        self._reader = reader
        self.places: dict[str, tuple[int, int]] = {}
        self.slots: dict[tuple[int, int], str] = {}
        self.arrays: dict[str, ArrayRecord] = {}
        self.entries = len(reader._places)
        self.reserved_attempt = reader._reserved_attempt
        self.highest = reader._highest

    def _place(self, key: str, job_id: str, index: int, attempt: int) -> bool:
        """Record job `job_id` at (index, attempt); False if known there already."""
        known = self.places.get(job_id) or self._reader._places.get(job_id)
        if known is not None:
            if known != (index, attempt):
                raise ManifestError(
                    f"manifest chunk {key} puts job {job_id} at index {index}, attempt "
                    f"{attempt}; the manifest has it at index {known[0]}, attempt {known[1]}",
                    key=key,
                )
            return False
        holder = self.slots.get((index, attempt)) or self._reader._slots.get((index, attempt))
        if holder is not None:
            raise ManifestError(
                f"manifest chunk {key} names job {job_id} as attempt {attempt} of index "
                f"{index}, which is job {holder}",
                key=key,
            )
        self.entries += 1
        if self.entries > MAX_ENTRIES:
            raise ManifestError(
                f"manifest chunk {key} takes the batch over {MAX_ENTRIES} job entries",
                key=key,
            )
        self.places[job_id] = (index, attempt)
        self.slots[(index, attempt)] = job_id
        if attempt > 1 and (self.highest is None or attempt > self.highest[0]):
            self.highest = (attempt, key)
        return True

    def chunk(self, key: str, chunk: ChunkJson) -> tuple[list[SubmittedJob], list[ArrayRecord]]:
        """Check one chunk against everything read before it (raises `ManifestError`); the
        jobs and arrays it records that were not known."""
        self.reserved_attempt = max(self.reserved_attempt, chunk.reserved_attempt or 1)
        children = sum(size for _, _, size, *_ in chunk.arrays)
        if self.entries + len(chunk.jobs) + children > MAX_ENTRIES:  # before any child exists
            raise ManifestError(
                f"manifest chunk {key} takes the batch over {MAX_ENTRIES} job entries",
                key=key,
            )
        jobs: list[SubmittedJob] = []
        for job_id, index, deps, attempt in chunk.jobs:
            _no_self_dependency(key, job_id, deps)
            if job_id in self.arrays or job_id in self._reader._arrays:
                raise ManifestError(f"manifest chunk {key} names array {job_id} a job", key=key)
            if self._place(key, job_id, index, attempt):
                jobs.append(SubmittedJob(job_id, index, tuple(deps), None, attempt))
        arrays: list[ArrayRecord] = []
        for array_id, base, size, deps, attempt, table in chunk.arrays:
            _no_self_dependency(key, array_id, deps)
            if table and (len(table) != size or len(set(table)) != size):
                raise ManifestError(
                    f"manifest chunk {key}: array {array_id} has {size} children but an index "
                    f"table of {len(table)} ({len(set(table))} different)",
                    key=key,
                )
            if not table and base + size > MAX_INDEX:
                raise ManifestError(
                    f"manifest chunk {key}: array {array_id} reaches past index {MAX_INDEX}",
                    key=key,
                )
            record = ArrayRecord(array_id, base, size, tuple(deps), attempt, tuple(table))
            known = self.arrays.get(array_id) or self._reader._arrays.get(array_id)
            if known is not None:
                if known != record:
                    raise ManifestError(
                        f"manifest chunk {key} describes array {array_id} unlike an earlier chunk",
                        key=key,
                    )
                continue
            if array_id in self.places or array_id in self._reader._places:
                raise ManifestError(f"manifest chunk {key} names job {array_id} an array", key=key)
            for child in range(size):
                self._place(key, f"{array_id}:{child}", record.index_of(child), attempt)
            self.arrays[array_id] = record
            arrays.append(record)
        return jobs, arrays

    def finish(self) -> None:
        """The checks over the whole read, then take it into the reader's tables."""
        if self.highest is not None and self.highest[0] > self.reserved_attempt:
            attempt, key = self.highest
            raise ManifestError(
                f"manifest chunk {key} records attempt {attempt}, but the manifest reserves "
                f"attempts up to {self.reserved_attempt} only",
                key=key,
            )
        reader = self._reader
        reader._places.update(self.places)
        reader._slots.update(self.slots)
        reader._arrays.update(self.arrays)
        reader._reserved_attempt = self.reserved_attempt
        reader._highest = self.highest


def _no_self_dependency(key: str, job_id: str, deps: Sequence[str]) -> None:
    if job_id in deps:
        raise ManifestError(f"manifest chunk {key}: job {job_id} depends on itself", key=key)


def _chunk_like(obj: StoredObject) -> bool:
    """Whether a listed object may be a chunk to read (not a folder, not empty, not a session
    record)."""
    name = obj.key.rsplit("/", 1)[-1]
    return not obj.key.endswith("/") and obj.size > 0 and not SESSION_KEY.fullmatch(name)


_FIELDS: Final = {
    "jobs": ("job id", "index", "dependencies", "attempt"),
    "arrays": ("array id", "first index", "size", "dependencies", "attempt", "index table"),
}


def _where(loc: Sequence[int | str]) -> str:
    """A validation error's place in a chunk, in words: `jobs[3] attempt`."""
    if len(loc) >= 3 and loc[0] in _FIELDS and isinstance(loc[1], int) and isinstance(loc[2], int):
        names = _FIELDS[str(loc[0])]
        name = names[loc[2]] if loc[2] < len(names) else str(loc[2])
        return " ".join([f"{loc[0]}[{loc[1]}] {name}", *map(str, loc[3:])])
    return ".".join(map(str, loc)) or "the chunk"


def _upgrade(chunk: ChunkJsonV1) -> ChunkJson:
    """A version-1 chunk as version 2: every job and array is attempt 1."""
    return ChunkJson(
        version=VERSION,
        batch=chunk.batch,
        jobs=[(j, i, d, 1) for j, i, d in chunk.jobs],
        arrays=[(a, b, n, d, 1, []) for a, b, n, d in chunk.arrays],
        reserved_to=chunk.reserved_to,
    )


def _parse_chunk(key: str, body: bytes, batch_id: str) -> ChunkJson:
    try:
        version = _VersionJson.model_validate_json(body).version
    except ValidationError as err:
        raise ManifestError(
            f"manifest chunk {key} is not a pcr-sdk manifest: {err.errors()[0]['msg']}", key=key
        ) from err
    if version not in READABLE_VERSIONS:
        raise ManifestVersionError(
            f"manifest chunk {key} has version {version}; this pcr-sdk reads versions "
            f"{', '.join(map(str, sorted(READABLE_VERSIONS)))} (upgrade pcr-sdk to read this "
            "batch)",
            key=key,
            version=version,
        )
    try:
        if version == 1:
            chunk = _upgrade(ChunkJsonV1.model_validate_json(body))
        else:
            chunk = ChunkJson.model_validate_json(body)
    except ValidationError as err:
        first = err.errors()[0]
        raise ManifestError(
            f"manifest chunk {key} is malformed: {_where(first['loc'])}: {first['msg']}", key=key
        ) from err
    if chunk.batch.batch_id != batch_id:
        raise ManifestError(
            f"manifest chunk {key} names batch {chunk.batch.batch_id!r}, not {batch_id!r}",
            key=key,
        )
    return chunk
