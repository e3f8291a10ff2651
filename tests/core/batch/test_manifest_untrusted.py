"""The manifest is untrusted input (before: the shipped stack's job role could rewrite it).

A 300-byte chunk declaring an array of 10^9 children ended `attach` in a raw MemoryError; a
chunk naming another batch was adopted, after which `resubmit_failed()` deleted a good output
and reran a job that had succeeded; a negative index raised a raw ValueError. Now every chunk
must name this batch, everything in it must be within AWS's limits and consistent with the
rest, sizes are bounded before anything is allocated, and a lie raises `ManifestError` at once,
naming the chunk, and changes nothing.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import Any

import pytest

from pcr_sdk import BatchLayout, JobStatus, ManifestError
from pcr_sdk._private.batch.manifest import MAX_CHUNK_BYTES, ManifestReader
from pcr_sdk._private.services.store import Listing, StoredObject
from pcr_sdk.testing import MotoWorld
from tests.support.fakes import FakeClock
from tests.support.submitters import attach_submitter, new_submitter

BATCH = "lies_00000000-0000-4000-8000-000000000000"
PREFIX = f"jobs/{BATCH}/manifest/"
RECORD = {"batch_id": BATCH, "job_queue": "q", "job_bucket": "b", "job_definition": BATCH}


class FakeStore:
    """The two calls a `ManifestReader` makes, on objects held in a dict; counts the reads."""

    def __init__(self) -> None:
        self.layout = BatchLayout(BATCH)
        self.objects: dict[str, bytes] = {}
        self.sizes: dict[str, int] = {}
        self.reads: list[str] = []

    def put(self, name: str, document: dict[str, Any], *, size: int | None = None) -> str:
        key = f"{PREFIX}{name}"
        self.objects[key] = json.dumps(document).encode()
        if size is not None:
            self.sizes[key] = size
        return key

    def list_detailed(self, prefix: str) -> Listing:
        now = datetime.now(timezone.utc)
        return Listing(
            tuple(
                StoredObject(k, self.sizes.get(k, len(v)), now, f'"{k}"')
                for k, v in sorted(self.objects.items())
                if k.startswith(prefix)
            ),
            now,
        )

    def get_bytes(self, key: str, *, max_bytes: int | None = None) -> bytes:
        self.reads.append(key)
        body = self.objects[key]
        return body if max_bytes is None else body[: max_bytes + 1]


def chunk(
    jobs: list[Any] | None = None, arrays: list[Any] | None = None, **extra: Any
) -> dict[str, Any]:
    return {"version": 2, "batch": RECORD, "jobs": jobs or [], "arrays": arrays or [], **extra}


def read(store: FakeStore) -> Any:
    return ManifestReader(store).read_new()  # type: ignore[arg-type]


LIES: list[tuple[str, dict[str, Any], str]] = [
    ("an array of 10^9 children", chunk(arrays=[["a", 0, 10**9, [], 1, []]]), "arrays[0] size"),
    ("another batch", {**chunk(jobs=[["j", 0, [], 1]]),
                       "batch": {**RECORD, "batch_id": "other_x"}}, "names batch 'other_x'"),
    ("a negative index", chunk(jobs=[["j", -1, [], 1]]), "jobs[0] index"),
    ("an index past AWS's queue limit", chunk(jobs=[["j", 10**6, [], 1]]), "jobs[0] index"),
    ("attempt 0", chunk(jobs=[["j", 0, [], 0]]), "jobs[0] attempt"),
    ("a bool for an index", chunk(jobs=[["j", True, [], 1]]), "jobs[0] index"),
    ("a job id that is not one", chunk(jobs=[["../x", 0, [], 1]]), "jobs[0] job id"),
    ("a child id as a job", chunk(jobs=[["a:1", 0, [], 1]]), "jobs[0] job id"),
    ("21 dependencies", chunk(jobs=[["j", 0, [f"d{i}" for i in range(21)], 1]]),
     "jobs[0] dependencies"),
    ("a job that depends on itself", chunk(jobs=[["j", 0, ["j"], 1]]), "depends on itself"),
    ("an array of one", chunk(arrays=[["a", 0, 1, [], 1, []]]), "arrays[0] size"),
    ("an array of 10,001", chunk(arrays=[["a", 0, 10_001, [], 1, []]]), "arrays[0] size"),
    ("an index table too short", chunk(arrays=[["a", 0, 3, [], 1, [4, 5]]], reserved_attempt=1),
     "index table of 2"),
    ("an index table with a twin", chunk(arrays=[["a", 0, 2, [], 2, [4, 4]]], reserved_attempt=2),
     "(1 different)"),
    ("a job at two places", chunk(jobs=[["j", 1, [], 1], ["j", 2, [], 1]]),
     "the manifest has it at index 1, attempt 1"),
    ("a job at a known job's place", chunk(jobs=[["j", 0, [], 1]]), "which is job g"),
    ("two jobs at one attempt of an index", chunk(jobs=[["j", 1, [], 1], ["k", 1, [], 1]]),
     "which is job j"),
    ("a child over a job", chunk(jobs=[["j", 2, [], 1]], arrays=[["a", 1, 2, [], 1, []]]),
     "which is job j"),
    ("an attempt never reserved", chunk(jobs=[["j", 0, [], 7]]), "reserves attempts up to 1"),
    ("over a million entries", chunk(arrays=[[f"a{i}", 1, 10_000, [], i + 1, []]
                                             for i in range(101)], reserved_attempt=101),
     "over 1000000 job entries"),
    ("a job named like an array", chunk(jobs=[["a", 5, [], 1]], arrays=[["a", 0, 2, [], 1, []]]),
     "names"),
    ("not JSON", {"version": 2, "oops": float("nan")}, "malformed"),
]  # fmt: skip


@pytest.mark.parametrize(("row", "document", "message"), LIES, ids=[r[0] for r in LIES])
def test_a_lying_chunk_is_refused_naming_it(
    row: str, document: dict[str, Any], message: str
) -> None:
    store = FakeStore()
    store.put("000000-good.json", chunk(jobs=[["g", 0, [], 1]], reserved_to=100))
    key = store.put("000001-lie.json", document)
    started = time.monotonic()
    with pytest.raises(ManifestError) as info:
        read(store)
    assert time.monotonic() - started < 1.0, row  # nothing was allocated for the lie
    assert info.value.key == key
    assert key in str(info.value)
    assert message in str(info.value), str(info.value)


def test_a_chunk_over_the_limit_is_not_read_at_all() -> None:
    store = FakeStore()
    key = store.put("000000-huge.json", chunk(), size=MAX_CHUNK_BYTES + 1)
    with pytest.raises(ManifestError, match="is 4194305 bytes") as info:
        read(store)
    assert info.value.key == key
    assert store.reads == []


def test_a_chunk_that_grew_after_the_listing_is_read_no_further_than_the_limit() -> None:
    store = FakeStore()
    key = store.put("000000-grew.json", {"pad": "x" * (MAX_CHUNK_BYTES + 10)}, size=10)
    with pytest.raises(ManifestError, match="over 4194304 bytes"):
        read(store)
    assert store.reads == [key]


def test_a_refused_read_takes_nothing_and_is_tried_again() -> None:
    """A watcher following the batch: the lie raises every time, and what it read before
    stays as it was."""
    store = FakeStore()
    store.put("000000-a.json", chunk(jobs=[["a", 0, [], 1]], reserved_to=100))
    reader = ManifestReader(store)  # type: ignore[arg-type]
    assert [job.job_id for job in reader.read_new().jobs] == ["a"]
    store.put("000001-b.json", chunk(jobs=[["b", 1, [], 1]]))
    store.put("000002-lie.json", chunk(jobs=[["a", 7, [], 1]]))  # a known job elsewhere
    for _ in range(2):
        with pytest.raises(ManifestError, match="000002-lie"):
            reader.read_new()
    del store.objects[f"{PREFIX}000002-lie.json"]
    assert [job.job_id for job in reader.read_new().jobs] == ["b"]  # b was not taken before


def test_what_pcr_sdk_writes_passes_repeated_records_included() -> None:
    """A chunk flushed again after a lost answer repeats records: the same, so not a lie."""
    store = FakeStore()
    store.put("000000-r.json", chunk(reserved_to=100))
    store.put("000000-x.json", chunk(jobs=[["j", 0, [], 1]], arrays=[["a", 1, 2, ["j"], 1, []]]))
    store.put("000000-y.json", chunk(jobs=[["j", 0, [], 1]], arrays=[["a", 1, 2, ["j"], 1, []]]))
    store.put("000003-z.json", chunk(jobs=[["k", 0, ["a"], 2]], reserved_attempt=2))
    store.put("session-0123456789ab.json", chunk(session={"state": "open"}))
    loaded = read(store)
    assert sorted((j.job_id, j.index, j.attempt) for j in loaded.all_jobs()) == [
        ("a:0", 1, 1), ("a:1", 2, 1), ("j", 0, 1), ("k", 0, 2),
    ]  # fmt: skip
    assert f"{PREFIX}session-0123456789ab.json" not in store.reads


@pytest.mark.integration
def test_attach_refuses_a_chunk_of_another_batch_and_a_rerun_deletes_nothing() -> None:
    """The issue's case end to end: the other batch's FAILED job claims index 0 at attempt 2."""
    clock = FakeClock()
    with MotoWorld() as world:
        world.script.worker(lambda data: data)
        good = new_submitter(world, clock)
        job = good.submit_job({"n": 0})
        good.wait_until_jobs_finished()
        other = new_submitter(world, clock, name="other")
        world.script.fail(job_name=other.get_batch_id())
        failed = other.submit_job({"n": 99})
        other.wait_until_jobs_finished()
        assert other.get_result(failed).status is JobStatus.FAILED
        lie = chunk(jobs=[[failed, 0, [], 2]], reserved_attempt=2)
        lie["batch"] = good._manifest.batch.to_json() | {"batch_id": other.get_batch_id()}
        key = f"{good.layout.manifest_prefix}000000-lie.json"
        world.clients.s3.put_object(Bucket=world.bucket, Key=key, Body=json.dumps(lie).encode())
        with pytest.raises(ManifestError, match="names batch") as info:
            attach_submitter(world, good.get_batch_id(), clock)
        assert info.value.key == key
        assert good.get_output_json(job) == {"n": 0}  # nothing deleted, nothing rerun
        assert [view.job_id for view in world.jobs() if view.index == 0] == [job, failed]
