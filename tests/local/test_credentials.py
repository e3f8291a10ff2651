"""The local backend's own keys: random, kept private in the data directory, never printed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pcr_sdk.local._credentials import CredentialsFileError, LocalCredentials, load_or_create


def test_generated_keys_look_like_aws_keys_and_hide_their_secret() -> None:
    keys = LocalCredentials.generate(lambda n: bytes(range(n)))
    assert keys.access_key_id.startswith("PCRL")
    assert len(keys.access_key_id) == 20
    assert keys.secret_access_key not in repr(keys)
    assert keys.environment() == {
        "AWS_ACCESS_KEY_ID": keys.access_key_id,
        "AWS_SECRET_ACCESS_KEY": keys.secret_access_key,
    }
    assert LocalCredentials.generate() != LocalCredentials.generate()


def test_keys_are_created_once_private_and_read_back(tmp_path: Path) -> None:
    made = load_or_create(tmp_path)
    assert (tmp_path / "credentials").stat().st_mode & 0o777 == 0o600
    assert load_or_create(tmp_path) == made


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    load_or_create(tmp_path)
    (tmp_path / "credentials").chmod(0o640)
    with pytest.raises(CredentialsFileError, match="chmod 600"):
        load_or_create(tmp_path)


def test_a_symlinked_key_file_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    load_or_create(elsewhere)
    (tmp_path / "data").mkdir()
    os.symlink(elsewhere / "credentials", tmp_path / "data" / "credentials")
    with pytest.raises(CredentialsFileError, match="cannot open"):
        load_or_create(tmp_path / "data")
