"""The manifest's session records stay readable by the version-2 readers of earlier pcr-sdk
releases, which take them as chunks without jobs (docs/compatibility.md).

`OldChunk` and `OldBatch` are those readers' models, copied as they were: version 2, the
fields below, unknown fields ignored. A session record must pass them and record nothing.
"""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from pcr_sdk.testing import MotoWorld
from tests.support.sharing import sessions
from tests.support.submitters import new_submitter

pytestmark = pytest.mark.integration


class OldBatch(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    batch_id: str
    job_queue: str
    job_bucket: str
    job_definition: str


class OldChunk(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    version: int
    batch: OldBatch
    jobs: list[tuple[str, int, list[str], int]]
    arrays: list[tuple[str, int, int, list[str], int, list[int]]]
    reserved_to: int | None = None
    reserved_attempt: int | None = None


def test_an_old_version_2_reader_reads_the_session_records_as_empty_chunks() -> None:
    with MotoWorld() as world:
        creator = new_submitter(world)
        creator.submit_job({"n": 0})
        creator.close()
        names = sessions(world, creator)
        assert len(names) == 2  # the open record and the closed one
        for name in names:
            key = f"{creator.layout.manifest_prefix}{name}"
            body = world.clients.s3.get_object(Bucket=world.bucket, Key=key)["Body"].read()
            chunk = OldChunk.model_validate_json(body)
            assert chunk.version == 2
            assert chunk.batch.batch_id == creator.get_batch_id()
            assert chunk.jobs == []
            assert chunk.arrays == []
