"""The engine's journal (`_journal`): every change an engine makes appended as it happens and
replayed into the same definitions, jobs, attempts and array children (the last record of each
wins), compacted to one record each, a torn last line dropped, any other damage, another version
or an inconsistent state refused; a write that fails logged once; `forget` picking what goes.
The engine runs on the stepping scheduler (no thread, no process): each DescribeJobs moves it."""

from __future__ import annotations

import json
import logging
import os
import stat
import uuid
from pathlib import Path
from typing import Any

import pytest

from pcr_sdk.local import AccountFormatError
from pcr_sdk.local._capacity import Resources
from pcr_sdk.local._engine import BatchEngine
from pcr_sdk.local._files import dump_record
from pcr_sdk.local._journal import (
    FORMAT,
    JOURNAL_DIRECTORY,
    JOURNAL_FILE,
    NO_JOURNAL,
    EngineJournal,
    KeptEngine,
    compact,
    forget,
)
from pcr_sdk.local._model import Job
from pcr_sdk.local._stepping import SteppingScheduler, VirtualClock
from tests.support.local import ScriptedPrograms, register, submit_to

TAG_BATCH = "pcr:batch-id"


class Journaled:
    """An engine on a stepping scheduler whose every change goes to a journal in `directory`."""

    def __init__(self, directory: Path) -> None:
        ids = (uuid.UUID(int=n) for n in range(1, 10_000))
        self.scheduler = SteppingScheduler(
            ScriptedPrograms({"bad": 1}, runs_for=1), lambda stream, line: None, queue="q",
            region="us-east-1", capacity=Resources(vcpus=4, memory_mib=4096, gpus=0),
            clock=VirtualClock(1_700_000_000.0), new_id=lambda: next(ids),
        )  # fmt: skip
        self.engine = BatchEngine.over(self.scheduler)
        self.journal = EngineJournal(directory)
        self.journal.open(KeptEngine())
        self.engine.keep(self.journal)

    def step(self, *job_ids: str, times: int = 1) -> None:
        for _ in range(times):
            self.engine.describe_jobs({"jobs": list(job_ids)})

    def described(self) -> dict[str, Any]:
        """Every job as DescribeJobs shows it, without moving it."""
        return {job_id: job.describe() for job_id, job in self.scheduler.jobs.items()}

    def definitions(self) -> list[dict[str, Any]]:
        answer = self.engine.describe_job_definitions({})
        return sorted(answer["jobDefinitions"], key=lambda d: str(d["jobDefinitionArn"]))


def _described(kept: KeptEngine) -> dict[str, Any]:
    return {job.job_id: job.describe() for job in kept.every_job()}


def _definitions(kept: KeptEngine) -> list[dict[str, Any]]:
    found = [d.describe() for revisions in kept.definitions.values() for d in revisions]
    return sorted(found, key=lambda d: str(d["jobDefinitionArn"]))


def _busy(directory: Path) -> tuple[Journaled, dict[str, str]]:
    """Definitions (two revisions, one deregistered), a plain job, an array after it, an N_TO_N
    array after that, a job failing twice, one left queued: moved some steps."""
    world = Journaled(directory)
    engine = world.engine
    ok = register(engine, "ok")
    register(engine, "ok")  # revision 2
    engine.deregister_job_definition({"jobDefinition": ok})
    ok2 = ok[: -len(":1")] + ":2"
    bad = register(engine, "bad")
    jobs = {
        "plain": submit_to(engine, ok2, tags={TAG_BATCH: "b_1"}),
        "failing": submit_to(engine, bad, retryStrategy={"attempts": 2}),
        "queued": submit_to(engine, ok2, parameters={"p": "v"}),
    }
    jobs["array"] = submit_to(
        engine, ok2, arrayProperties={"size": 3}, dependsOn=[{"jobId": jobs["plain"]}],
        containerOverrides={"command": ["run", "it"], "environment": [{"name": "E",
                                                                       "value": "é"}]},
    )  # fmt: skip
    jobs["n_to_n"] = submit_to(
        engine, ok2, arrayProperties={"size": 3},
        dependsOn=[{"jobId": jobs["array"], "type": "N_TO_N"}],
    )  # fmt: skip
    children = [f"{jobs['array']}:{i}" for i in range(3)]
    world.step(jobs["plain"], jobs["failing"], times=12)
    world.step(*children, times=3)
    return world, jobs


def test_what_the_engine_did_comes_back_from_the_journal_as_it_was(tmp_path: Path) -> None:
    world, jobs = _busy(tmp_path)
    statuses = {name: world.described()[job_id]["status"] for name, job_id in jobs.items()}
    assert statuses["plain"] == "SUCCEEDED"
    assert statuses["failing"] == "FAILED"
    assert statuses["queued"] == "SUBMITTED"  # a mix of finished, running and waiting jobs
    assert len(world.described()[jobs["failing"]]["attempts"]) == 2
    world.journal.close()

    kept = EngineJournal(tmp_path).load()
    assert _described(kept) == world.described()
    assert _definitions(kept) == world.definitions()
    assert [d.revision for d in kept.definitions["ok"]] == [1, 2]
    assert kept.definitions["ok"][0].status == "INACTIVE"
    assert [job.job_id for job in kept.jobs] == [j.job_id for j in world.scheduler.top_level]
    array = next(job for job in kept.jobs if job.job_id == jobs["array"])
    n_to_n = next(job for job in kept.jobs if job.job_id == jobs["n_to_n"])
    assert [c.index for c in array.children] == [0, 1, 2]
    assert array.prerequisites[0].job_id == jobs["plain"]  # the same object as the kept job
    assert array.prerequisites[0] is kept.jobs[0]
    assert n_to_n.children[1].prerequisites == [array.children[1]]
    assert array.children[0].tags is array.tags
    assert kept.last_write_ms == int((tmp_path / JOURNAL_DIRECTORY / JOURNAL_FILE).stat()
                                     .st_mtime * 1000)  # fmt: skip


def test_the_last_record_wins_and_opening_compacts_to_one_record_each(tmp_path: Path) -> None:
    world, jobs = _busy(tmp_path)
    world.journal.close()
    path = tmp_path / JOURNAL_DIRECTORY / JOURNAL_FILE
    appended = path.read_bytes().splitlines()
    kept = EngineJournal(tmp_path).load()

    again = EngineJournal(tmp_path)
    again.open(kept)  # what a new holder does
    again.close()
    lines = [json.loads(line) for line in path.read_bytes().splitlines()]
    assert lines[0] == {"format": FORMAT, "version": 1}
    kinds = [line["r"] for line in lines[1:]]
    assert kinds.count("definition") == 3
    assert kinds.count("job") == len(jobs)
    assert kinds.count("state") == len(kept.every_job())  # the children's states too
    assert len(lines) < len(appended)
    assert _described(EngineJournal(tmp_path).load()) == _described(kept)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert sorted(p.name for p in path.parent.iterdir()) == [JOURNAL_FILE]  # no temporary left


def test_changes_are_appended_after_a_compaction(tmp_path: Path) -> None:
    world, jobs = _busy(tmp_path)
    world.journal.close()
    kept = EngineJournal(tmp_path).load()
    compact(tmp_path, kept)
    journal = EngineJournal(tmp_path)
    journal.open(EngineJournal(tmp_path).load())
    queued = next(job for job in kept.jobs if job.job_id == jobs["queued"])
    queued.status_reason = "changed after the compaction"
    queued.tags = {"t": "v"}
    journal.job_changed(queued)
    journal.close()
    journal.job_changed(queued)  # closed: nothing more is written
    found = next(j for j in EngineJournal(tmp_path).load().jobs if j.job_id == jobs["queued"])
    assert found.status_reason == "changed after the compaction"
    assert found.tags == {"t": "v"}


def test_no_journal_is_an_empty_engine(tmp_path: Path) -> None:
    kept = EngineJournal(tmp_path).load()
    assert (kept.definitions, kept.jobs, kept.last_write_ms) == ({}, [], 0)
    assert kept.every_job() == []
    NO_JOURNAL.job_changed(None)  # type: ignore[arg-type]  # the temporary backend's: no-op


def test_a_torn_last_line_is_dropped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    world, jobs = _busy(tmp_path)
    world.journal.close()
    path = tmp_path / JOURNAL_DIRECTORY / JOURNAL_FILE
    whole = EngineJournal(tmp_path).load()
    path.write_bytes(path.read_bytes() + b'{"r":"state","id":"' + jobs["plain"].encode())
    with caplog.at_level(logging.WARNING, logger="pcr_sdk.local._journal"):
        kept = EngineJournal(tmp_path).load()
    assert "dropped the last, unfinished line" in caplog.text
    assert _described(kept) == _described(whole)


def _journal_with(tmp_path: Path, *lines: bytes, version: int = 1) -> Path:
    path = tmp_path / JOURNAL_DIRECTORY / JOURNAL_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(dump_record(FORMAT, version, {}) + b"".join(line + b"\n" for line in lines))
    return path


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ((b"not json",), r"journal.jsonl:2: not a JSON record"),
        ((b'{"r":"definition","arn":"a"}', b"[1, 2]"), r"journal.jsonl:3: not a JSON object"),
        ((b'{"r":"checkpoint","id":"x"}',), "unknown record 'checkpoint'"),
        ((b'{"r":"definition","arn":"a"}',), "not a consistent engine state"),
        (
            (b'{"r":"job","id":"j","seq":1,"definition":"arn:of:nothing","resources":[1,2,0]}',),
            "not a consistent engine state",
        ),
    ],
)
def test_damage_inside_the_journal_is_refused(
    tmp_path: Path, lines: tuple[bytes, ...], message: str
) -> None:
    path = _journal_with(tmp_path, *lines)
    with pytest.raises(AccountFormatError, match=message) as refused:
        EngineJournal(tmp_path).load()
    assert refused.value.path == path


@pytest.mark.parametrize("line", [b'{"r":"definition"}', b'{"r":"job"}', b'{"r":"state"}'])
def test_a_record_without_its_key_is_refused_as_damage(tmp_path: Path, line: bytes) -> None:
    _journal_with(tmp_path, line)
    with pytest.raises(AccountFormatError):
        EngineJournal(tmp_path).load()


def test_a_journal_of_another_version_or_format_is_refused(tmp_path: Path) -> None:
    path = _journal_with(tmp_path, version=2)
    with pytest.raises(AccountFormatError, match="version 2") as refused:
        EngineJournal(tmp_path).load()
    assert refused.value.version == 2
    path.write_bytes(dump_record("pcr-local-settings", 1, {}))
    with pytest.raises(AccountFormatError, match="not a pcr-local-engine record"):
        EngineJournal(tmp_path).load()


def test_a_write_that_fails_is_logged_once_and_the_engine_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    world, jobs = _busy(tmp_path)
    journal = world.journal
    assert journal._fd is not None
    os.close(journal._fd)
    journal._fd = os.open(journal.path, os.O_RDONLY)  # every write now fails (EBADF)
    with caplog.at_level(logging.ERROR, logger="pcr_sdk.local._journal"):
        world.step(jobs["queued"], times=3)
    assert caplog.text.count("cannot write its journal") == 1
    assert world.described()[jobs["queued"]]["status"] != "SUBMITTED"  # it moved on all the same
    journal.close()


def test_forget_drops_the_jobs_picked_and_the_definitions_nobody_else_uses(
    tmp_path: Path,
) -> None:
    world, jobs = _busy(tmp_path)
    world.journal.close()
    kept = EngineJournal(tmp_path).load()

    def in_batch(job: Job) -> bool:
        return job.tags.get(TAG_BATCH) == "b_1"

    left = forget(kept, job=in_batch, definition=lambda d: True)
    assert jobs["plain"] not in {job.job_id for job in left.jobs}
    assert len(left.jobs) == len(kept.jobs) - 1
    assert set(left.definitions) == {"ok", "bad"}  # both still used by a job that stays
    assert left.last_write_ms == kept.last_write_ms

    everything = forget(kept, job=lambda job: True, definition=lambda d: d.name == "bad")
    assert everything.jobs == []
    assert set(everything.definitions) == {"ok"}
    none = forget(kept, job=lambda job: False, definition=lambda d: False)
    assert [j.job_id for j in none.jobs] == [j.job_id for j in kept.jobs]
    assert kept.jobs  # `kept` itself is left as it was
