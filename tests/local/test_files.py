"""The files of a kept account (`_files`): versioned one-line records written and read back,
any other format, version or damage refused with the file named, whole-file replacement that
leaves no half-written file, no temporary and no followed symlink, and private directories."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from pcr_sdk import PcrError
from pcr_sdk.local import AccountFormatError, LocalAccountError
from pcr_sdk.local._files import (
    PRIVATE_DIRECTORY,
    PRIVATE_FILE,
    dump_record,
    load_record,
    private_directory,
    read_record,
    write_atomically,
)


def test_a_record_is_one_json_line_that_reads_back_with_its_format_and_version(
    tmp_path: Path,
) -> None:
    raw = dump_record("pcr-test", 3, {"name": "ü/ß", "n": [1, 2]})
    assert raw.endswith(b"\n")
    assert raw.count(b"\n") == 1
    assert "ü".encode() in raw  # kept as UTF-8, not \u-escaped
    record = load_record(raw, fmt="pcr-test", version=3, path=tmp_path / "r")
    assert record == {"format": "pcr-test", "version": 3, "name": "ü/ß", "n": [1, 2]}
    assert list(record)[:2] == ["format", "version"]


def test_a_body_naming_another_format_or_version_is_written_so_and_then_refused() -> None:
    raw = dump_record("pcr-test", 1, {"format": "other", "version": 7})
    assert json.loads(raw) == {"format": "other", "version": 7}  # the body's keys come last
    # so a reader of "pcr-test" v1 refuses it rather than reading it as one of its own
    with pytest.raises(AccountFormatError):
        load_record(raw, fmt="pcr-test", version=1, path=Path("x"))


def test_another_version_is_refused_naming_the_file_and_the_version_found(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    with pytest.raises(AccountFormatError, match="version 2, and this pcr-sdk reads version 1"):
        load_record(dump_record("pcr-test", 2, {}), fmt="pcr-test", version=1, path=path)
    with pytest.raises(AccountFormatError, match="version None") as refused:
        load_record(b'{"format": "pcr-test"}', fmt="pcr-test", version=1, path=path)
    assert refused.value.path == path
    assert refused.value.version is None  # no version at all: refused too


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "not a JSON record"),
        (b'{"format": "pcr-test", "version": 1', "not a JSON record"),  # cut short
        (b"\xff\xfe", "not a JSON record"),
        (b'["pcr-test", 1]', "not a pcr-test record"),
        (b'{"format": "pcr-other", "version": 1}', "not a pcr-test record"),
        (b'{"version": 1}', "not a pcr-test record"),
        (b'{"format": "pcr-test", "version": "1"}', "version '1'"),
        (b'{"format": "pcr-test", "version": 1.5}', "version 1.5"),
    ],
)
def test_damage_and_other_formats_are_refused(raw: bytes, message: str, tmp_path: Path) -> None:
    path = tmp_path / "f"
    with pytest.raises(AccountFormatError, match=message) as refused:
        load_record(raw, fmt="pcr-test", version=1, path=path)
    assert refused.value.path == path
    assert str(path) in str(refused.value)


def test_the_errors_are_pcr_errors_with_the_path() -> None:
    err = AccountFormatError("bad", path=Path("/d/f"), version=9)
    assert isinstance(err, LocalAccountError)
    assert isinstance(err, PcrError)
    assert (err.path, err.version) == (Path("/d/f"), 9)


def test_read_record_is_none_without_the_file_and_refuses_a_damaged_one(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    assert read_record(path, fmt="pcr-test", version=1) is None
    path.write_bytes(dump_record("pcr-test", 1, {"a": 1}))
    assert read_record(path, fmt="pcr-test", version=1) == {"format": "pcr-test", "version": 1,
                                                           "a": 1}  # fmt: skip
    path.write_bytes(b"garbage")
    with pytest.raises(AccountFormatError):
        read_record(path, fmt="pcr-test", version=1)


def test_a_write_replaces_the_whole_file_private_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"old content, longer than the new one")
    path.chmod(0o644)
    write_atomically(path, b"new")
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == PRIVATE_FILE  # the new file, not the old mode
    assert [p.name for p in tmp_path.iterdir()] == ["f"]
    write_atomically(tmp_path / "g", b"x", mode=0o640)
    assert stat.S_IMODE((tmp_path / "g").stat().st_mode) == 0o640 & ~_umask()


def test_a_write_that_fails_keeps_the_old_file_and_removes_its_temporary(tmp_path: Path) -> None:
    target = tmp_path / "d"
    target.mkdir()
    (target / "inside").write_bytes(b"kept")
    with pytest.raises(OSError, match=r"Directory not empty|Is a directory"):
        write_atomically(target, b"new")  # cannot rename a file over a non-empty directory
    assert (target / "inside").read_bytes() == b"kept"
    assert [p.name for p in tmp_path.iterdir()] == ["d"]


def test_a_write_replaces_a_symlink_and_never_writes_through_it(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.write_bytes(b"not yours")
    account = private_directory(tmp_path / "account")
    (account / "endpoint").symlink_to(outside)
    write_atomically(account / "endpoint", b"mine")
    assert outside.read_bytes() == b"not yours"
    assert not (account / "endpoint").is_symlink()
    assert (account / "endpoint").read_bytes() == b"mine"


def test_a_private_directory_is_made_with_its_parents_and_only_its_user_may_enter(
    tmp_path: Path,
) -> None:
    made = private_directory(tmp_path / "a" / "b")
    assert made == tmp_path / "a" / "b"
    assert made.is_dir()
    assert stat.S_IMODE(made.stat().st_mode) == PRIVATE_DIRECTORY
    (made / "f").write_bytes(b"x")
    assert private_directory(made) == made  # an existing one is left as it is
    assert (made / "f").read_bytes() == b"x"


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
