"""The files of a kept local account: atomic writes, versioned formats, the account's errors.

Every file of a data directory is replaced whole (written beside it, then renamed over it) or
appended to a line at a time, so a reader, or the next process after a SIGKILL, finds either the
old content or the new one, never half of it. Nothing is fsynced: a kept account survives its
process dying, not the machine losing power mid-write.

Each format carries a name and a version; a reader refuses a version it does not know
(`AccountFormatError`) rather than guess.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path
from typing import Any, Final

from pcr_sdk._private.errors import PcrError
from pcr_sdk._private.public import public

PRIVATE_FILE: Final = 0o600
PRIVATE_DIRECTORY: Final = 0o700


@public("pcr_sdk.local")
class LocalAccountError(PcrError):
    """A kept local account (a backend's data directory) cannot be used as asked."""

    def __init__(self, message: str, *, path: Path) -> None:
        super().__init__(message)
        self.path = path


@public("pcr_sdk.local")
class AccountFormatError(LocalAccountError):
    """A file of the account is not in a format this pcr-sdk reads: newer, or damaged."""

    def __init__(self, message: str, *, path: Path, version: object = None) -> None:
        super().__init__(message, path=path)
        self.version = version


def private_directory(path: Path) -> Path:
    """`path`, created (with its parents) as a directory only this user may enter if missing."""
    path.mkdir(mode=PRIVATE_DIRECTORY, parents=True, exist_ok=True)
    return path


def write_atomically(path: Path, data: bytes, *, mode: int = PRIVATE_FILE) -> None:
    """Replace `path` with `data` in one step: a reader sees the old file or the new one."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def dump_record(fmt: str, version: int, body: dict[str, Any]) -> bytes:
    """A versioned JSON record, one line: `{"format": fmt, "version": version, ...body}`."""
    record = {"format": fmt, "version": version, **body}
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def load_record(raw: bytes, *, fmt: str, version: int, path: Path) -> dict[str, Any]:
    """The JSON object of a record of format `fmt`, version `version`; refused otherwise."""
    try:
        record = json.loads(raw)
    except ValueError as err:
        raise AccountFormatError(f"{path}: not a JSON record ({err})", path=path) from err
    if not isinstance(record, dict) or record.get("format") != fmt:
        raise AccountFormatError(f"{path}: not a {fmt} record", path=path)
    found = record.get("version")
    if found != version:
        raise AccountFormatError(
            f"{path}: {fmt} version {found!r}, and this pcr-sdk reads version {version} only "
            "(written by a newer pcr-sdk? upgrade, or remove the data directory)",
            path=path,
            version=found,
        )
    return record


def read_record(path: Path, *, fmt: str, version: int) -> dict[str, Any] | None:
    """The record in file `path` (see `load_record`); None if there is no such file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    return load_record(raw, fmt=fmt, version=version, path=path)
