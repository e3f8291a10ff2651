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
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from pydantic import BaseModel, ConfigDict, ValidationError

from pcr_sdk._private.errors import AwsError, ManifestError, ManifestVersionError
from pcr_sdk._private.model.results import SubmittedJob
from pcr_sdk._private.services.store import InputStore
from pcr_sdk._private.wire.layout import BatchLayout

logger = logging.getLogger(__name__)

VERSION: Final = 2
READABLE_VERSIONS: Final = frozenset({1, 2})
DEFAULT_FLUSH_EVERY: Final = 100


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

    batch_id: str
    job_queue: str
    job_bucket: str
    job_definition: str


class _VersionJson(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: int


class ChunkJsonV1(BaseModel):
    """One manifest chunk object as pcr-sdk wrote it before reruns (version 1)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    version: int
    batch: _BatchJson
    jobs: list[tuple[str, int, list[str]]]
    """[job id, index, dependency ids]"""
    arrays: list[tuple[str, int, int, list[str]]]
    """[array id, first index, size, dependency ids]"""
    reserved_to: int | None = None


class ChunkJson(BaseModel):
    """One manifest chunk object, as written to S3 (version 2)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    version: int
    batch: _BatchJson
    jobs: list[tuple[str, int, list[str], int]]
    """[job id, index, dependency ids, attempt]"""
    arrays: list[tuple[str, int, int, list[str], int, list[int]]]
    """[array id, first index, size, dependency ids, attempt, index table]: child i is job
    first index + i, or `index table[i]` when the table is not empty (a rerun)."""
    reserved_to: int | None = None
    """Every index below this may have been used: written before the jobs are submitted."""
    reserved_attempt: int | None = None
    """A rerun may have used this attempt number: written before it submits anything."""


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
        self._store.put_json(key, document.model_dump(mode="json", exclude_none=True))
        return key

    @staticmethod
    def load(store: InputStore) -> LoadedManifest:
        """Every chunk of the batch's manifest, merged.

        Empty objects and keys ending in "/" (folders made by the S3 console or other tools)
        are skipped. A chunk that is not a manifest raises `ManifestError`; one written by a
        newer pcr-sdk raises `ManifestVersionError` rather than being misread.
        """
        loaded = LoadedManifest()
        for key, size in store.list_objects(store.layout.manifest_prefix):
            if key.endswith("/") or size == 0:
                continue
            chunk = _parse_chunk(key, store.get_bytes(key))
            loaded.batch = loaded.batch or BatchRecord(**chunk.batch.model_dump())
            loaded.jobs += [SubmittedJob(j, i, tuple(d), None, n) for j, i, d, n in chunk.jobs]
            loaded.arrays += [
                ArrayRecord(a, b, n, tuple(d), attempt, tuple(table))
                for a, b, n, d, attempt, table in chunk.arrays
            ]
            loaded.reserved_to = max(loaded.reserved_to, chunk.reserved_to or 0)
            loaded.reserved_attempt = max(loaded.reserved_attempt, chunk.reserved_attempt or 1)
        return loaded


def _upgrade(chunk: ChunkJsonV1) -> ChunkJson:
    """A version-1 chunk as version 2: every job and array is attempt 1."""
    return ChunkJson(
        version=VERSION,
        batch=chunk.batch,
        jobs=[(j, i, d, 1) for j, i, d in chunk.jobs],
        arrays=[(a, b, n, d, 1, []) for a, b, n, d in chunk.arrays],
        reserved_to=chunk.reserved_to,
    )


def _parse_chunk(key: str, body: bytes) -> ChunkJson:
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
            return _upgrade(ChunkJsonV1.model_validate_json(body))
        chunk = ChunkJson.model_validate_json(body)
    except ValidationError as err:
        raise ManifestError(
            f"manifest chunk {key} is malformed: {err.errors()[0]['msg']}", key=key
        ) from err
    for array_id, _, size, _, attempt, table in chunk.arrays:
        if (table and len(table) != size) or attempt < 1:
            raise ManifestError(f"manifest chunk {key} is malformed: array {array_id}", key=key)
    if any(attempt < 1 for *_, attempt in chunk.jobs):
        raise ManifestError(f"manifest chunk {key} is malformed: an attempt below 1", key=key)
    return chunk
