"""The manifest: the ledger's journal in S3 (version 2 written, version 1 read, unknown versions
refused, attach skipping what is not a chunk).

Its chunks on their own over a `MemoryStore`; then through `JobSubmitter` and attach on a
MotoWorld."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pcr_sdk import (
    AwsError,
    BatchLayout,
    JobSubmitter,
    ManifestError,
    ManifestVersionError,
    SilentProgress,
    SubmittedJob,
)
from pcr_sdk._private.batch.manifest import ArrayRecord, BatchRecord, Manifest
from pcr_sdk.testing import MotoWorld
from tests.support.fakes import FakeClock, MemoryStore
from tests.support.submitters import attach_submitter, new_submitter

pytestmark = pytest.mark.moto_world(polls_to_finish=1)  # for the tests on a MotoWorld


RECORD = BatchRecord("b_1", "q", "bkt", "d:1")


def manifest(store: MemoryStore, flush_every: int = 100) -> Manifest:
    tokens = iter(f"t{n}" for n in range(100))
    return Manifest(
        store.store(), RECORD, flush_every=flush_every, token_factory=lambda: next(tokens)
    )


def test_chunks_are_written_when_full_for_an_array_at_once_and_merged_on_load() -> None:
    store = MemoryStore(BatchLayout("b_1"))
    chunks = manifest(store, flush_every=2)
    chunks.reserve(100)
    chunks.add(SubmittedJob("j0", 0))
    assert len(store.objects) == 1  # only the reservation so far
    chunks.add(SubmittedJob("j1", 1, ("j0",)))  # the buffer is full: a chunk
    chunks.add_array(ArrayRecord("arr", 2, 3, ("j1",)))  # an array goes out at once
    chunks.reserve_attempt(2)
    chunks.flush()  # nothing left: no empty chunk
    prefix = "jobs/b_1/manifest/"
    names = ["000000-t1", "000000-t3", "000002-t2", "000100-t0"]  # <first index>-<token>
    assert sorted(store.objects) == [f"{prefix}{name}.json" for name in names]
    loaded = Manifest.load(store.store())
    assert loaded.batch == RECORD
    assert (loaded.reserved_to, loaded.reserved_attempt) == (100, 2)
    assert loaded.all_jobs() == [
        SubmittedJob("j0", 0), SubmittedJob("j1", 1, ("j0",)),
        *ArrayRecord("arr", 2, 3, ("j1",)).children(),
    ]  # fmt: skip


def test_a_chunk_that_fails_is_kept_for_the_next_flush(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryStore(BatchLayout("b_1"), failing=True)
    chunks = manifest(store)
    chunks.add(SubmittedJob("j0", 0))
    chunks.flush_soon()  # during submission: warned, not raised
    assert "kept for the next flush" in caplog.text
    with pytest.raises(AwsError):
        chunks.flush()
    store.failing = False
    chunks.flush()
    assert Manifest.load(store.store()).all_jobs() == [SubmittedJob("j0", 0)]


def test_folders_and_empty_objects_are_skipped_and_a_stranger_is_refused() -> None:
    store = MemoryStore(BatchLayout("b_1"))
    prefix = "jobs/b_1/manifest/"
    store.objects.update({prefix: b"", f"{prefix}folder/": b"{}", f"{prefix}empty.json": b""})
    assert Manifest.load(store.store()).all_jobs() == []
    store.objects[f"{prefix}notes.json"] = b'{"hello": 1}'
    with pytest.raises(ManifestError) as raised:
        Manifest.load(store.store())
    assert raised.value.key == f"{prefix}notes.json"


def manifest_keys(world: MotoWorld, batch_id: str) -> list[str]:
    found = world.clients.s3.list_objects_v2(
        Bucket=world.bucket, Prefix=f"jobs/{batch_id}/manifest/"
    )
    return [o["Key"] for o in found.get("Contents", [])]


def write_chunk(world: MotoWorld, batch_id: str, name: str, document: dict[str, Any]) -> None:
    key = f"jobs/{batch_id}/manifest/{name}.json"
    world.clients.s3.put_object(Bucket=world.bucket, Key=key, Body=json.dumps(document).encode())


@pytest.mark.integration  # moto's S3
def test_version_1_chunks_are_read_as_attempt_1_and_version_2_is_written(
    moto_world: MotoWorld,
) -> None:
    clock = FakeClock()
    sub = new_submitter(moto_world, clock)
    plain = sub.submit_job({"n": 0})
    sub.close()
    batch_id = sub.get_batch_id()
    written = [
        json.loads(moto_world.clients.s3.get_object(Bucket=moto_world.bucket, Key=k)["Body"].read())
        for k in manifest_keys(moto_world, batch_id)
    ]
    assert {chunk["version"] for chunk in written} == {2}
    assert [chunk["jobs"] for chunk in written if chunk["jobs"]] == [[[plain, 0, [], 1]]]
    write_chunk(moto_world, batch_id, "000001-old", {  # as pcr-sdk wrote it before reruns
        "version": 1, "batch": sub._manifest.batch.to_json(),
        "jobs": [["j1", 1, []], ["j2", 2, ["j1"]]], "arrays": [["arr", 3, 2, ["j1"]]],
        "reserved_to": 5,
    })  # fmt: skip
    again = attach_submitter(moto_world, batch_id, clock)
    assert again.jobs == (
        SubmittedJob(plain, 0),
        SubmittedJob("j1", 1),
        SubmittedJob("j2", 2, ("j1",)),
        SubmittedJob("arr:0", 3, ("j1",), "arr"),
        SubmittedJob("arr:1", 4, ("j1",), "arr"),
    )


@pytest.mark.parametrize(
    ("document", "error", "message"),
    [
        ({"version": 3, "future": True}, ManifestVersionError, "has version 3; this pcr-sdk "
         "reads versions 1, 2 (upgrade pcr-sdk"),
        ({"version": 2, "jobs": [["j", 0, [], 0]], "arrays": []}, ManifestError, "attempt"),
        ({"version": 2, "jobs": [], "arrays": [["a", 0, 3, [], 2, [5, 6]]]}, ManifestError,
         "array a"),
    ],
)  # fmt: skip
@pytest.mark.integration  # moto's S3
def test_a_chunk_of_an_unknown_version_or_shape_is_refused_clearly(
    moto_world: MotoWorld, document: dict[str, Any], error: type[Exception], message: str
) -> None:
    clock = FakeClock()
    sub = new_submitter(moto_world, clock)
    sub.close()
    document = {"batch": sub._manifest.batch.to_json(), **document}
    write_chunk(moto_world, sub.get_batch_id(), "000000-bad", document)
    with pytest.raises(error, match=message.replace("(", r"\(")):
        attach_submitter(moto_world, sub.get_batch_id(), clock)


@pytest.mark.integration  # moto's S3
def test_attempts_and_index_tables_round_trip_through_the_manifest(moto_world: MotoWorld) -> None:
    clock = FakeClock()
    sub = new_submitter(moto_world, clock)
    manifest = Manifest(sub._store, sub._manifest.batch)
    manifest.add(SubmittedJob("p2", 1, ("x",), None, 2))
    manifest.add_array(ArrayRecord("r", 3, 2, ("p2",), 4, (3, 7)))
    manifest.reserve_attempt(5)
    manifest.flush()
    loaded = Manifest.load(sub._store)
    assert loaded.reserved_attempt == 5
    assert loaded.all_jobs() == [
        SubmittedJob("p2", 1, ("x",), None, 2),
        SubmittedJob("r:0", 3, ("p2",), "r", 4),
        SubmittedJob("r:1", 7, ("p2",), "r", 4),
    ]
    sub.close()


def make(world: MotoWorld, clock: FakeClock | None = None, **kw: Any) -> JobSubmitter:
    return new_submitter(world, clock, **{"polling_interval_seconds": 60, **kw})


@pytest.mark.integration
def test_attach_skips_console_folders_and_names_a_broken_chunk(moto_world: MotoWorld) -> None:
    """Defect 4: a zero-byte object under manifest/ made attach raise JSONDecodeError."""
    sub = make(moto_world)
    job_id = sub.submit_job({})
    sub._manifest.flush()
    prefix = sub.layout.manifest_prefix
    moto_world.clients.s3.put_object(Bucket=moto_world.bucket, Key=prefix, Body=b"")
    moto_world.clients.s3.put_object(Bucket=moto_world.bucket, Key=f"{prefix}folder/", Body=b"")
    attached = JobSubmitter.attach(
        sub.get_batch_id(), job_queue=moto_world.queue, job_bucket=moto_world.bucket,
        clients=moto_world.clients, progress=SilentProgress(),
    )  # fmt: skip
    assert [j.job_id for j in attached.jobs] == [job_id]
    moto_world.clients.s3.put_object(
        Bucket=moto_world.bucket, Key=f"{prefix}junk.json", Body=b"{oops"
    )
    with pytest.raises(ManifestError) as raised:
        JobSubmitter.attach(
            sub.get_batch_id(), job_queue=moto_world.queue, job_bucket=moto_world.bucket,
            clients=moto_world.clients, progress=SilentProgress(),
        )  # fmt: skip
    assert raised.value.key == f"{prefix}junk.json"
    sub.close()
