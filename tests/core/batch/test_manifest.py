"""The parts of a rerun: indexed packs, worker contract 2 (and older workers refusing it), the
manifest's version 2 (version 1 still read, unknown versions refused), attempts in the ledger."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from pcr_sdk import BatchLayout, ManifestError, ManifestVersionError, SubmittedJob
from pcr_sdk import worker as worker_module
from pcr_sdk._private.batch.ledger import Ledger
from pcr_sdk._private.batch.manifest import ArrayRecord, LoadedManifest, Manifest
from pcr_sdk._private.batch.status import _NoJournal
from pcr_sdk._private.errors import WorkerContractError, WorkerEnvironmentError
from pcr_sdk._private.wire.layout import ENV_ARRAY_BASE_INDEX, ENV_WORKER_CONTRACT
from pcr_sdk._private.wire.packing import (
    pack_indexed,
    payloads,
    read_indexed_record,
    read_table,
    table_range,
    unpack_indexed,
)
from pcr_sdk.testing import MotoWorld
from pcr_sdk.worker import UNSUPPORTED_CONTRACT_EXIT_CODE, JobContext, run
from tests.support.fakes import FakeClock
from tests.support.submitters import attach_submitter, new_submitter

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BATCH = "rerun_c6bc6ee9-0000-4000-8000-000000000000"
BUCKET = "bkt"
LAYOUT = BatchLayout(BATCH)

entries = st.lists(st.tuples(st.integers(0, 10**6), st.binary(max_size=30)), max_size=25)


@given(entries, st.data())
def test_an_indexed_pack_reads_any_child_with_two_ranged_reads(
    pairs: list[tuple[int, bytes]], data: st.DataObject
) -> None:
    packed = pack_indexed(pairs)
    assert unpack_indexed(packed) == pairs
    assert payloads(packed) == [payload for _, payload in pairs]
    first, last = table_range(len(pairs)) if pairs else (0, -1)
    assert read_table(packed[first : last + 1], len(pairs)) == [i for i, _ in pairs]
    if pairs:
        child = data.draw(st.integers(0, len(pairs) - 1))
        reads: list[tuple[int, int]] = []

        def read_range(first: int, last: int) -> bytes:
            reads.append((first, last))
            return packed[first : last + 1]

        index, start, end = read_indexed_record(read_range, child)
        assert (index, packed[start:end]) == pairs[child]
        assert len(reads) == 1  # the payload is the second read


@pytest.fixture
def s3() -> Iterator[S3Client]:
    with mock_aws():
        client = boto3.client(
            "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
        )
        client.create_bucket(Bucket=BUCKET)
        yield client


def rerun_child(s3: S3Client, child: int) -> dict[str, str]:
    """The environment of child `child` of a rerun array of jobs 4 and 9."""
    key = LAYOUT.indexed_inputs_key(4, 2)
    s3.put_object(Bucket=BUCKET, Key=key, Body=pack_indexed([(4, b'{"n": 4}'), (9, b'{"n": 9}')]))
    env = LAYOUT.indexed_array_environment(bucket=BUCKET, inputs_key=key)
    return {**env, "AWS_BATCH_JOB_ARRAY_INDEX": str(child), "AWS_BATCH_JOB_ID": f"a:{child}"}


@pytest.mark.integration  # moto's S3
def test_a_rerun_child_finds_its_job_in_the_index_table(s3: S3Client) -> None:
    env = rerun_child(s3, 1)
    assert env[ENV_WORKER_CONTRACT] == "2"
    context = JobContext.from_env(env, s3=s3)
    assert (context.index, context.output_key) == (9, LAYOUT.output_key(9))
    run(lambda data: {"twice": 2 * data["n"]}, environ=env, s3=s3)
    body = s3.get_object(Bucket=BUCKET, Key=LAYOUT.output_key(9))["Body"].read()
    assert json.loads(body) == {"twice": 18}
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix=LAYOUT.prefix(1))


class NoS3:
    """An S3 client that must not be used."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the worker called S3 ({name}) before refusing the job")


@pytest.mark.integration  # moto's S3
def test_an_older_worker_fails_a_rerun_child_before_touching_s3(
    s3: S3Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    env = rerun_child(s3, 0)
    monkeypatch.setattr(worker_module, "WORKER_CONTRACT_VERSION", 1)  # a worker of contract 1
    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as exit_:
        run(lambda data: data, environ=env, s3=NoS3())  # type: ignore[arg-type]
    assert exit_.value.code == UNSUPPORTED_CONTRACT_EXIT_CODE == 3
    (line,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert "needs worker contract 2" in line
    assert "rebuild the image with a newer pcr-sdk" in line


@pytest.mark.parametrize("version", ["3", "two", "0"])
def test_this_worker_refuses_a_contract_it_does_not_know(version: str) -> None:
    env = {
        **LAYOUT.indexed_array_environment(bucket=BUCKET, inputs_key="k"),
        ENV_WORKER_CONTRACT: version, "AWS_BATCH_JOB_ARRAY_INDEX": "0",
    }  # fmt: skip
    with pytest.raises(WorkerContractError) as info:
        JobContext.from_env(env, s3=NoS3())  # type: ignore[arg-type]
    assert (info.value.required, info.value.supported) == (version, 2)
    with pytest.raises(SystemExit) as exit_:
        run(lambda data: data, environ=env, s3=NoS3())  # type: ignore[arg-type]
    assert exit_.value.code == 3


@pytest.mark.integration  # moto's S3
def test_a_worker_from_before_the_contract_variable_refuses_a_rerun_child(s3: S3Client) -> None:
    """Such a worker reads every array child through PCR_ARRAY_BASE_INDEX, which a rerun array
    does not set: it fails on the missing variable, before reading or writing anything."""
    env = rerun_child(s3, 0)
    with pytest.raises(WorkerEnvironmentError) as info:
        JobContext._array_child(env, s3)  # the only path a worker without contract 2 has
    assert info.value.missing == (ENV_ARRAY_BASE_INDEX,)


def manifest_keys(world: MotoWorld, batch_id: str) -> list[str]:
    found = world.clients.s3.list_objects_v2(
        Bucket=world.bucket, Prefix=f"jobs/{batch_id}/manifest/"
    )
    return [o["Key"] for o in found.get("Contents", [])]


def write_chunk(world: MotoWorld, batch_id: str, name: str, document: dict[str, Any]) -> None:
    key = f"jobs/{batch_id}/manifest/{name}.json"
    world.clients.s3.put_object(Bucket=world.bucket, Key=key, Body=json.dumps(document).encode())


@pytest.mark.integration  # moto's S3
def test_version_1_chunks_are_read_as_attempt_1_and_version_2_is_written() -> None:
    clock = FakeClock()
    with MotoWorld() as world:
        sub = new_submitter(world, clock)
        plain = sub.submit_job({"n": 0})
        sub.close()
        batch_id = sub.get_batch_id()
        written = [
            json.loads(world.clients.s3.get_object(Bucket=world.bucket, Key=k)["Body"].read())
            for k in manifest_keys(world, batch_id)
        ]
        assert {chunk["version"] for chunk in written} == {2}
        assert [chunk["jobs"] for chunk in written if chunk["jobs"]] == [[[plain, 0, [], 1]]]
        write_chunk(world, batch_id, "000001-old", {  # as pcr-sdk wrote it before reruns
            "version": 1, "batch": sub._manifest.batch.to_json(),
            "jobs": [["j1", 1, []], ["j2", 2, ["j1"]]], "arrays": [["arr", 3, 2, ["j1"]]],
            "reserved_to": 5,
        })  # fmt: skip
        again = attach_submitter(world, batch_id, clock)
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
    document: dict[str, Any], error: type[Exception], message: str
) -> None:
    clock = FakeClock()
    with MotoWorld() as world:
        sub = new_submitter(world, clock)
        sub.close()
        document = {"batch": sub._manifest.batch.to_json(), **document}
        write_chunk(world, sub.get_batch_id(), "000000-bad", document)
        with pytest.raises(error, match=message.replace("(", r"\(")):
            attach_submitter(world, sub.get_batch_id(), clock)


@pytest.mark.integration  # moto's S3
def test_attempts_and_index_tables_round_trip_through_the_manifest() -> None:
    clock = FakeClock()
    with MotoWorld() as world:
        sub = new_submitter(world, clock)
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


def test_the_ledger_keeps_the_highest_attempt_current_and_ignores_a_duplicate(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ledger = Ledger("b", _NoJournal())
    loaded = LoadedManifest(jobs=[SubmittedJob("first", 0), SubmittedJob("other", 1)])
    found = [
        (SubmittedJob("first", 0), None),
        (SubmittedJob("rerun", 0, attempt=2), None),
        (SubmittedJob("twin", 1), None),  # the same attempt as the manifest's job 1
        (SubmittedJob("r:0", 2, (), "r", 3), None),
        (SubmittedJob("r:1", 5, (), "r", 3), None),
    ]
    with caplog.at_level(logging.WARNING):
        recovered = ledger.reconcile(loaded, found)
    assert recovered == 3
    assert [job.job_id for job in ledger.jobs] == ["rerun", "other", "r:0", "r:1"]
    assert len(ledger) == 4
    assert ledger.job("first").index == 0  # an older attempt is still known by its id
    assert ledger.members("r") == [2, 5]
    assert ledger.array("r") == ArrayRecord("r", 2, 2, (), 3, (2, 5))
    assert ledger.next_attempt() == 4
    assert "also has twin" in caplog.text
