"""A kept account held by this process (`_kept`): `KeptAccount.open` makes the directory, takes
the lock (a second opener is refused, naming the holder it published), writes the settings,
owns the bucket and reads the journal, and lets all of it go again when it fails or closes;
`restore` ends the attempt an earlier holder was running as a host that went away and keeps
journaling; the size of an account on disk. moto's S3 is stubbed (`bucket_exists`,
`forget_bucket`): nothing here touches moto's process-wide state."""

from __future__ import annotations

import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pcr_sdk.local import AccountFormatError, AccountInUseError, Holder
from pcr_sdk.local import _moto_s3 as moto
from pcr_sdk.local._account_settings import BackendSettings, load
from pcr_sdk.local._capacity import Resources
from pcr_sdk.local._engine import BatchEngine
from pcr_sdk.local._files import dump_record
from pcr_sdk.local._holder import ENDPOINT_FILE, HolderLock, is_held, live_holder
from pcr_sdk.local._journal import JOURNAL_DIRECTORY, JOURNAL_FILE, EngineJournal, KeptEngine
from pcr_sdk.local._kept import HOLDER_ENDED, KeptAccount, account_size, in_use, log_directory
from pcr_sdk.local._logs import LogStore
from pcr_sdk.local._stepping import SteppingScheduler, VirtualClock
from tests.support.local import ScriptedPrograms, register, submit_to

EARLIER = Holder(
    url="http://127.0.0.1:4575", pid=4242, started_at=1_700_000_000.0, runs_jobs=True,
    bucket="kept", queue="q", region="us-east-1", program="pcr local serve",
)  # fmt: skip


@pytest.fixture
def forgotten(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """moto has no bucket; the buckets a closing account takes out of it, in order."""
    taken: list[str] = []
    monkeypatch.setattr(moto, "bucket_exists", lambda bucket: False)
    monkeypatch.setattr(moto, "forget_bucket", taken.append)
    return taken


@pytest.fixture
def bucket() -> str:
    return f"kept-{uuid.uuid4().hex[:12]}"


def _no_sleep(seconds: float) -> None:
    del seconds


@pytest.fixture
def account(tmp_path: Path, bucket: str, forgotten: list[str]) -> Iterator[KeptAccount]:
    opened = KeptAccount.open(tmp_path / "a", settings=None, bucket=bucket, sleep=_no_sleep)
    yield opened
    opened.close()


def test_opening_holds_the_directory_keeps_the_settings_and_owns_the_bucket(
    tmp_path: Path, bucket: str, forgotten: list[str]
) -> None:
    directory = tmp_path / "new" / "account"
    settings = BackendSettings(bucket=bucket, extra_env={"K": "v"})
    account = KeptAccount.open(directory, settings=settings, bucket=bucket, sleep=_no_sleep)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert is_held(directory)
    assert load(directory) == settings
    assert account.owner.owned() == [bucket]
    assert account.earlier is None
    assert account.engine.every_job() == []
    account.close()
    assert not is_held(directory)
    assert account.owner.owned() == []
    assert forgotten == [bucket]  # its buckets leave this process's S3


def test_reopening_without_settings_keeps_the_ones_there(
    tmp_path: Path, bucket: str, forgotten: list[str]
) -> None:
    settings = BackendSettings(bucket=bucket, cwd="/w")
    KeptAccount.open(tmp_path, settings=settings, bucket=bucket, sleep=_no_sleep).close()
    KeptAccount.open(tmp_path, settings=None, bucket=bucket, sleep=_no_sleep).close()
    assert load(tmp_path) == settings


def test_a_second_opener_is_refused_naming_the_holder(account: KeptAccount, bucket: str) -> None:
    with pytest.raises(AccountInUseError, match="another process") as refused:
        KeptAccount.open(account.directory, settings=None, bucket="other", sleep=_no_sleep)
    assert refused.value.holder is None  # not published yet
    assert refused.value.path == account.directory
    account.lock.publish(EARLIER)
    with pytest.raises(AccountInUseError, match=r"pcr local serve \(process 4242") as refused:
        KeptAccount.open(account.directory, settings=None, bucket="other", sleep=_no_sleep)
    assert refused.value.holder == EARLIER
    assert account.owner.owned() == [bucket]  # the refused opener took nothing


def test_an_account_that_cannot_be_read_is_let_go_at_once(
    tmp_path: Path, bucket: str, forgotten: list[str]
) -> None:
    journal = tmp_path / JOURNAL_DIRECTORY / JOURNAL_FILE
    journal.parent.mkdir(parents=True)
    journal.write_bytes(dump_record("pcr-local-engine", 2, {}))
    with pytest.raises(AccountFormatError, match="version 2"):
        KeptAccount.open(tmp_path, settings=None, bucket=bucket, sleep=_no_sleep)
    assert not is_held(tmp_path)
    assert forgotten == [bucket]  # claimed, then released
    again = KeptAccount.open(tmp_path / "other", settings=None, bucket=bucket, sleep=_no_sleep)
    assert again.owner.owned() == [bucket]  # the bucket is free for another account
    again.close()


def test_a_killed_holders_endpoint_is_remembered_as_the_earlier_holder(
    tmp_path: Path, bucket: str, forgotten: list[str]
) -> None:
    (tmp_path / ENDPOINT_FILE).write_bytes(dump_record("pcr-local-holder", 1, vars(EARLIER)))
    account = KeptAccount.open(tmp_path, settings=None, bucket=bucket, sleep=_no_sleep)
    assert account.earlier == EARLIER
    account.close()


def test_a_killed_holders_endpoint_is_not_live_once_another_process_holds_the_account(
    tmp_path: Path, bucket: str, forgotten: list[str]
) -> None:
    (tmp_path / ENDPOINT_FILE).write_bytes(dump_record("pcr-local-holder", 1, vars(EARLIER)))
    account = KeptAccount.open(tmp_path, settings=None, bucket=bucket, sleep=_no_sleep)
    try:
        assert live_holder(tmp_path) is None
    finally:
        account.close()


def _running_job(directory: Path) -> str:
    """A journal (in `directory`) of a job an earlier holder was running when it ended."""
    ids = (uuid.UUID(int=n) for n in range(1, 100))
    scheduler = SteppingScheduler(
        ScriptedPrograms(runs_for=100), lambda stream, line: None, queue="q", region="us-east-1",
        capacity=Resources(vcpus=4, memory_mib=4096, gpus=0), clock=VirtualClock(1_700_000_000.0),
        new_id=lambda: next(ids),
    )  # fmt: skip
    engine = BatchEngine.over(scheduler)
    journal = EngineJournal(directory)
    journal.open(KeptEngine())
    engine.keep(journal)
    job_id = submit_to(engine, register(engine), retryStrategy={"attempts": 2})
    while engine.describe_jobs({"jobs": [job_id]})["jobs"][0]["status"] != "RUNNING":
        pass
    journal.close()
    return job_id


def test_restore_ends_an_attempt_the_earlier_holder_ran_and_keeps_journaling(
    tmp_path: Path, bucket: str, forgotten: list[str]
) -> None:
    job_id = _running_job(tmp_path)
    (tmp_path / ENDPOINT_FILE).write_bytes(dump_record("pcr-local-holder", 1, vars(EARLIER)))
    account = KeptAccount.open(tmp_path, settings=None, bucket=bucket, sleep=_no_sleep)
    # STARTING: the stepping scheduler does not journal STARTING -> RUNNING (the real one does)
    assert [job.status.value for job in account.engine.jobs] in (["STARTING"], ["RUNNING"])
    scheduler = SteppingScheduler(
        ScriptedPrograms(), lambda stream, line: None, queue="q", region="us-east-1",
        capacity=Resources(vcpus=4, memory_mib=4096, gpus=0), clock=VirtualClock(1_700_000_100.0),
    )  # fmt: skip
    engine = BatchEngine.over(scheduler)
    logs = LogStore(clock_ms=lambda: 0, directory=log_directory(tmp_path))
    try:
        account.restore(engine, logs)
        job = scheduler.jobs[job_id]
        assert job.status.value == "RUNNABLE"  # attempt 1 of 2 ended: retried
        [ended] = job.attempts
        assert ended.exit_code is None
        assert ended.reason == "the local backend (process 4242) that ran this attempt ended"
        assert ended.status_reason is not None
        assert ended.status_reason.endswith(HOLDER_ENDED.format(who=" (process 4242)"))
        assert ended.stopped_at is not None
        assert account.engine.last_write_ms >= ended.stopped_at
    finally:
        account.close()
        logs.close()
    [kept] = EngineJournal(tmp_path).load().jobs  # journaled: the cut-off attempt is kept
    assert kept.status.value == "RUNNABLE"
    assert [a.reason for a in kept.attempts] == [ended.reason]


def test_in_use_names_the_holder_when_it_published() -> None:
    named = in_use(Path("/d"), EARLIER)
    assert "held by pcr local serve (process 4242, http://127.0.0.1:4575)" in str(named)
    assert named.holder == EARLIER
    anonymous = in_use(Path("/d"), None)
    assert "held by another process (or another backend of this one)" in str(anonymous)
    assert (anonymous.holder, anonymous.path) == (None, Path("/d"))


def test_the_size_of_an_account_is_its_files_bytes(tmp_path: Path) -> None:
    assert account_size(tmp_path / "missing") == 0
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "one").write_bytes(b"123")
    (tmp_path / "a" / "b" / "two").write_bytes(b"12345")
    outside = tmp_path.parent / f"{tmp_path.name}-big"
    outside.write_bytes(b"x" * 10_000)
    (tmp_path / "link").symlink_to(outside)  # counted as the link, not what it names
    link = len(str(outside))
    assert account_size(tmp_path) == 3 + 5 + link
    assert log_directory(tmp_path) == tmp_path / "logs"


def test_a_lock_taken_by_another_opener_of_this_process_is_refused(
    tmp_path: Path, bucket: str, forgotten: list[str]
) -> None:
    lock = HolderLock.take(tmp_path, sleep=_no_sleep)
    assert lock is not None
    try:
        with pytest.raises(AccountInUseError):
            KeptAccount.open(tmp_path, settings=None, bucket=bucket, sleep=_no_sleep)
    finally:
        lock.release()
    KeptAccount.open(tmp_path, settings=None, bucket=bucket, sleep=_no_sleep).close()
