"""One holder at a time (`_holder`): the account's flock taken, refused to a second taker (in
this process too: a flock belongs to its open file), released, and never followed through a
symlink; the endpoint a holder publishes, read back, refused in another version, and ignored
once its lock is free; the shortened program name it publishes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pcr_sdk.local import AccountFormatError, Holder
from pcr_sdk.local._files import dump_record
from pcr_sdk.local._holder import (
    _TRY_PAUSE,
    ENDPOINT_FILE,
    FORMAT,
    LOCK_FILE,
    TAKE_TRIES,
    HolderLock,
    is_held,
    live_holder,
    program_name,
    published,
)

HOLDER = Holder(
    url="http://127.0.0.1:4575",
    pid=4242,
    started_at=1_700_000_000.5,
    runs_jobs=True,
    bucket="kept",
    queue="q",
    region="eu-central-1",
    program="pcr local serve",
)


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_second_taker_is_refused_while_the_lock_is_held_and_takes_it_once_released(
    tmp_path: Path,
) -> None:
    pauses: list[float] = []
    lock = HolderLock.take(tmp_path, sleep=pauses.append)
    assert lock is not None
    assert pauses == []  # a free lock is taken at once
    assert is_held(tmp_path)
    before = _open_fds()
    assert HolderLock.take(tmp_path, sleep=pauses.append) is None
    assert pauses == [_TRY_PAUSE] * (TAKE_TRIES - 1)  # no pause after the last try
    assert _open_fds() == before  # the refused taker's descriptor is closed
    lock.release()
    lock.release()  # idempotent
    assert not is_held(tmp_path)
    again = HolderLock.take(tmp_path, sleep=pauses.append)
    assert again is not None
    again.release()


def test_the_lock_file_is_private_and_never_a_symlink(tmp_path: Path) -> None:
    assert not is_held(tmp_path)  # no lock file yet
    lock = HolderLock.take(tmp_path, sleep=lambda _: None)
    assert lock is not None
    lock.release()
    assert stat.S_IMODE((tmp_path / LOCK_FILE).stat().st_mode) == 0o600
    other = tmp_path / "other"
    other.mkdir()
    target = tmp_path / "target"
    target.write_bytes(b"")
    (other / LOCK_FILE).symlink_to(target)
    with pytest.raises(OSError, match="Too many levels of symbolic links"):
        HolderLock.take(other, sleep=lambda _: None)
    with pytest.raises(OSError, match="Too many levels of symbolic links"):
        is_held(other)


def test_the_published_endpoint_reads_back_and_goes_when_the_holder_lets_go(
    tmp_path: Path,
) -> None:
    lock = HolderLock.take(tmp_path, sleep=lambda _: None)
    assert lock is not None
    assert published(tmp_path) is None
    assert live_holder(tmp_path) is None  # held, but not published yet
    lock.publish(HOLDER)
    assert stat.S_IMODE((tmp_path / ENDPOINT_FILE).stat().st_mode) == 0o600
    assert published(tmp_path) == HOLDER
    assert live_holder(tmp_path) == HOLDER
    lock.unpublish()
    assert not (tmp_path / ENDPOINT_FILE).exists()
    assert live_holder(tmp_path) is None
    assert is_held(tmp_path)  # unpublished, still held: nobody joins a closing holder
    lock.publish(HOLDER)
    lock.release()
    assert not (tmp_path / ENDPOINT_FILE).exists()
    assert not is_held(tmp_path)


def test_a_killed_holders_endpoint_is_ignored_and_left_for_the_next_holder(
    tmp_path: Path,
) -> None:
    (tmp_path / ENDPOINT_FILE).write_bytes(dump_record(FORMAT, 1, vars(HOLDER)))
    assert published(tmp_path) == HOLDER  # what it said
    assert live_holder(tmp_path) is None  # nobody holds the lock: a leftover
    lock = HolderLock.take(tmp_path, sleep=lambda _: None)
    assert lock is not None
    lock.release()  # it did not publish, so it does not remove what another wrote
    assert published(tmp_path) == HOLDER


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (dump_record(FORMAT, 2, vars(HOLDER)), "version 2"),
        (dump_record(FORMAT, 1, {"url": "http://x"}), "not a holder's endpoint"),
        (dump_record(FORMAT, 1, {**vars(HOLDER), "pid": "not a pid"}), "not a holder's endpoint"),
        (dump_record(FORMAT, 1, {**vars(HOLDER), "started_at": None}), "not a holder's endpoint"),
        (b"\x00garbage", "not a JSON record"),
    ],
)
def test_an_endpoint_of_another_version_or_damaged_is_refused(
    tmp_path: Path, raw: bytes, message: str
) -> None:
    (tmp_path / ENDPOINT_FILE).write_bytes(raw)
    with pytest.raises(AccountFormatError, match=message) as refused:
        published(tmp_path)
    assert refused.value.path == tmp_path / ENDPOINT_FILE


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["/usr/local/bin/pcr", "local", "serve", "--port", "4575"], "pcr local serve --port 4575"),
        (["/x/pcr_sdk/cli/__main__.py", "demo"], "pcr demo"),
        (["-c"], "python -c ..."),
        (["/usr/bin/pytest", "-q"], "/usr/bin/pytest -q"),
        ([], "python"),
        (["prog", "x" * 200], ("prog " + "x" * 200)[:117] + "..."),
    ],
)
def test_the_program_name_is_the_command_line_shortened(argv: list[str], name: str) -> None:
    assert program_name(argv) == name
    assert len(program_name(argv)) <= 120


def test_the_program_name_defaults_to_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.argv", ["/bin/pcr", "retry", "b_1"])
    assert program_name() == "pcr retry b_1"
