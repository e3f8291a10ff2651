"""The settings a kept account runs jobs with (`_account_settings`): `settings.json` written
(mode 0600, versioned) and read back field for field, no file read as "no settings yet", another
version, an unknown field or a wrong type refused, and the working directory made absolute."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from pcr_sdk.local import AccountFormatError
from pcr_sdk.local._account_settings import (
    FORMAT,
    SETTINGS_FILE,
    VERSION,
    BackendSettings,
    absolute_cwd,
    load,
    save,
)
from pcr_sdk.local._files import dump_record


def test_settings_round_trip_through_their_file(tmp_path: Path) -> None:
    settings = BackendSettings(
        command={"img": ["python", "-m", "worker"], "other:1": ["run"]},
        cwd="/srv/work",
        containers="podman",
        host_access=True,
        extra_env={"KEPT": "yes", "EMPTY": ""},
        max_parallel=3,
        vcpus=2.5,
        memory_mib=2048,
        gpus=1,
        timeout_scale=0.5,
        grace_seconds=7.0,
        bucket="kept",
        queue="q",
        region="eu-central-1",
    )
    save(tmp_path, settings)
    assert load(tmp_path) == settings
    path = tmp_path / SETTINGS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds the jobs' environment
    record = json.loads(path.read_bytes())
    assert (record["format"], record["version"]) == (FORMAT, VERSION)
    assert record["extra_env"] == {"KEPT": "yes", "EMPTY": ""}


def test_the_defaults_and_one_argv_for_every_image_round_trip(tmp_path: Path) -> None:
    save(tmp_path, BackendSettings())
    assert load(tmp_path) == BackendSettings()
    save(tmp_path, BackendSettings(command=["python", "w.py"]))  # replaces the earlier file
    loaded = load(tmp_path)
    assert loaded is not None
    assert loaded.command == ["python", "w.py"]
    assert [p.name for p in tmp_path.iterdir()] == [SETTINGS_FILE]


def test_no_file_means_no_settings_yet(tmp_path: Path) -> None:
    assert load(tmp_path) is None
    assert load(tmp_path / "missing") is None


@pytest.mark.parametrize(
    ("body", "version", "message"),
    [
        ({"bucket": "b"}, 2, "version 2"),
        ({"bucket": "b", "colour": "red"}, VERSION, "not valid backend settings"),
        ({"gpus": "many"}, VERSION, "not valid backend settings"),
        ({"containers": "lxc"}, VERSION, "not valid backend settings"),
    ],
)
def test_another_version_an_unknown_field_or_a_wrong_type_is_refused(
    tmp_path: Path, body: dict[str, object], version: int, message: str
) -> None:
    path = tmp_path / SETTINGS_FILE
    path.write_bytes(dump_record(FORMAT, version, body))
    with pytest.raises(AccountFormatError, match=message) as refused:
        load(tmp_path)
    assert refused.value.path == path


def test_settings_are_frozen() -> None:
    settings = BackendSettings(bucket="b")
    with pytest.raises(ValueError, match="frozen"):
        settings.bucket = "other"  # type: ignore[misc]


def test_the_working_directory_is_kept_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert absolute_cwd(None) == os.getcwd()
    assert absolute_cwd("sub/dir") == str(tmp_path / "sub" / "dir")
    assert absolute_cwd(Path("a/../b")) == str(tmp_path / "b")
    assert absolute_cwd("/already/absolute") == "/already/absolute"
