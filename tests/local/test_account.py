"""`LocalAccount` read and tidied from the files (`_account`): where the `pcr` command keeps
it, its holder, the batches kept there (jobs by status from the journal, bytes of objects and
logs), forgetting one batch or everything but the keys, refused while a process holds it.
Joining a live holder (`connect`) starts a server: tests/scenarios/local/test_kept_account.py."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from pcr_sdk.local import AccountInUseError, Holder, KeptBatch, LocalAccount, _holder
from pcr_sdk.local._account import batch_of
from pcr_sdk.local._capacity import Resources
from pcr_sdk.local._engine import BatchEngine
from pcr_sdk.local._files import dump_record
from pcr_sdk.local._holder import HolderLock
from pcr_sdk.local._journal import EngineJournal, KeptEngine
from pcr_sdk.local._stepping import SteppingScheduler, VirtualClock
from tests.support.local import ScriptedPrograms, register, submit_to

TAG_BATCH = "pcr:batch-id"
HOLDER = Holder(
    url="http://127.0.0.1:4575", pid=4242, started_at=1_700_000_000.0, runs_jobs=True,
    bucket="kept", queue="q", region="us-east-1", program="pcr local serve",
)  # fmt: skip


def _kept_account(directory: Path) -> dict[str, str]:
    """An account as a holder left it: batch b_1 (a job that succeeded, an array of two with
    one failed), b_2 submitted later (queued), objects of b_1 and of b_3 (no job), b_1's logs."""
    ids = (uuid.UUID(int=n) for n in range(1, 100))
    clock = VirtualClock(1_700_000_000.0)
    scheduler = SteppingScheduler(
        ScriptedPrograms({"bad": 1}), lambda stream, line: None, queue="q", region="us-east-1",
        capacity=Resources(vcpus=4, memory_mib=4096, gpus=0), clock=clock,
        new_id=lambda: next(ids),
    )  # fmt: skip
    engine = BatchEngine.over(scheduler)
    journal = EngineJournal(directory)
    journal.open(KeptEngine())
    engine.keep(journal)
    jobs = {
        "one": submit_to(engine, register(engine, "b_1"), tags={TAG_BATCH: "b_1"}),
        "array": submit_to(
            engine, register(engine, "bad"), tags={TAG_BATCH: "b_1"}, arrayProperties={"size": 2}
        ),
        "untagged": submit_to(engine, register(engine, "other")),
    }
    for _ in range(8):
        engine.describe_jobs({"jobs": [jobs["one"], f"{jobs['array']}:0"]})
    clock.advance(60)
    jobs["later"] = submit_to(engine, register(engine, "b_2"), tags={TAG_BATCH: "b_2"})
    journal.close()
    bucket = directory / "s3" / "kept"
    bucket.mkdir(parents=True)
    (bucket / "~bucket").write_bytes(
        dump_record("pcr-local-s3-bucket", 1, {"name": "kept", "region": "us-east-1"})
    )
    for batch, size in (("b_1", 100), ("b_3", 7)):
        (bucket / "jobs" / batch / "000000").mkdir(parents=True)
        (bucket / "jobs" / batch / "000000" / "output.json~").write_bytes(b"x" * size)
    (directory / "logs" / "b_1").mkdir(parents=True)
    (directory / "logs" / "b_1" / "stream").write_bytes(b"y" * 30)
    (directory / "credentials").write_bytes(b"keys")
    return jobs


def test_the_batches_kept_are_counted_from_the_journal_and_the_files(tmp_path: Path) -> None:
    _kept_account(tmp_path)
    batches = LocalAccount(tmp_path).batches()
    assert [b.batch_id for b in batches] == ["b_1", "b_2", "b_3"]  # oldest first, no job last
    b_1, b_2, b_3 = batches
    assert b_1.jobs == 3  # the array's children count, the array itself not
    assert b_1.counts["SUCCEEDED"] == 1
    assert sum(b_1.counts.values()) == 3
    assert (b_1.s3_bytes, b_1.log_bytes, b_1.total_bytes) == (100, 30, 130)
    assert b_1.created_at is not None
    assert b_2.created_at is not None
    assert b_1.created_at < b_2.created_at
    assert (b_2.jobs, b_2.counts, b_2.s3_bytes, b_2.finished) == (1, {"SUBMITTED": 1}, 0, False)
    assert b_3 == KeptBatch(batch_id="b_3", jobs=0, counts={}, created_at=None, s3_bytes=7)
    assert b_3.finished  # nothing left to run
    assert LocalAccount(tmp_path).size() > 130


def test_forgetting_a_batch_removes_its_jobs_definition_objects_and_logs(
    tmp_path: Path,
) -> None:
    jobs = _kept_account(tmp_path)
    account = LocalAccount(tmp_path)
    forgotten = account.forget("b_1")
    assert forgotten is not None
    assert forgotten.batch_id == "b_1"
    assert forgotten.jobs == 3
    assert account.forget("b_1") is None
    assert [b.batch_id for b in account.batches()] == ["b_2", "b_3"]
    kept = EngineJournal(tmp_path).load()
    assert {job.job_id for job in kept.jobs} == {jobs["untagged"], jobs["later"]}
    # a definition goes only if it carries the batch's tag itself; these carry none
    assert set(kept.definitions) == {"b_1", "bad", "other", "b_2"}
    assert not (tmp_path / "s3" / "kept" / "jobs" / "b_1").exists()
    assert (tmp_path / "s3" / "kept" / "jobs" / "b_3").is_dir()
    assert not (tmp_path / "logs" / "b_1").exists()
    again = HolderLock.take(tmp_path, sleep=lambda _: None)
    assert again is not None  # let go again
    again.release()


def test_reset_keeps_only_the_keys_and_the_lock(tmp_path: Path) -> None:
    _kept_account(tmp_path)
    (tmp_path / "endpoint").write_bytes(b"left by a holder that was killed")
    account = LocalAccount(tmp_path)
    account.reset()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["credentials", "lock"]
    assert (tmp_path / "credentials").read_bytes() == b"keys"
    assert account.batches() == []
    LocalAccount(tmp_path / "missing").reset()  # nothing there: nothing to do
    assert not (tmp_path / "missing").exists()


def test_forget_and_reset_are_refused_while_a_process_holds_the_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _kept_account(tmp_path)
    monkeypatch.setattr(_holder, "TAKE_TRIES", 1)  # LocalAccount takes no sleep to inject
    lock = HolderLock.take(tmp_path, sleep=lambda _: None)
    assert lock is not None
    lock.publish(HOLDER)
    account = LocalAccount(tmp_path)
    try:
        assert account.holder() == HOLDER
        with pytest.raises(AccountInUseError, match="process 4242") as refused:
            account.forget("b_1")
        assert refused.value.holder == HOLDER
        with pytest.raises(AccountInUseError):
            account.reset()
        assert [b.batch_id for b in account.batches()] == ["b_1", "b_2", "b_3"]  # reads go on
    finally:
        lock.release()
    assert account.holder() is None
    assert account.forget("b_3") is not None


def test_the_default_account_is_in_the_users_state_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert LocalAccount.default_path() == tmp_path / "pcr-sdk" / "local"
    assert not (tmp_path / "pcr-sdk").exists()  # named, not made
    assert repr(LocalAccount("/d/acc")) == "LocalAccount('/d/acc')"
    assert LocalAccount(tmp_path / "nobody").holder() is None
    assert LocalAccount(tmp_path / "nobody").batches() == []


def test_a_kept_batch_is_finished_once_every_job_ended() -> None:
    done = KeptBatch(batch_id="b", jobs=2, counts={"SUCCEEDED": 1, "FAILED": 1}, log_bytes=3)
    assert done.finished
    assert done.total_bytes == 3
    assert not KeptBatch(batch_id="b", jobs=2, counts={"SUCCEEDED": 1, "RUNNING": 1}).finished


def test_a_job_belongs_to_the_batch_its_tag_names(tmp_path: Path) -> None:
    jobs = _kept_account(tmp_path)
    by_id = {job.job_id: job for job in EngineJournal(tmp_path).load().jobs}
    assert batch_of(by_id[jobs["one"]]) == "b_1"
    assert batch_of(by_id[jobs["untagged"]]) is None
