"""The settings a kept account runs jobs with: `<data_dir>/settings.json`.

A backend constructed with arguments writes them there when it opens its data directory;
`LocalBackend.reopen(data_dir)` reads them back, so `pcr retry --local` (or any later process)
runs jobs with the command mapping, working directory, environment and compute environment of
the last backend that ran jobs there. One typed, versioned record: a field more is one line here
and one in `LocalBackend`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from pcr_sdk._private.wire import facts
from pcr_sdk.local._files import AccountFormatError, dump_record, read_record, write_atomically

SETTINGS_FILE: Final = "settings.json"
FORMAT: Final = "pcr-local-settings"
VERSION: Final = 1

Command = list[str] | dict[str, list[str]] | None


class BackendSettings(BaseModel):
    """What `LocalBackend` was constructed with, beyond where it listens: each field is the
    constructor's argument of the same name (so a new argument to keep is one field here)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    command: Command = None
    """One argv for every image, a mapping image -> argv, or None (the definition's)."""
    cwd: str | None = None
    """The job processes' working directory, absolute (None: the opening process's)."""
    containers: Literal["docker", "podman"] | None = None
    host_access: bool = False
    extra_env: dict[str, str] = {}
    max_parallel: int | None = None
    vcpus: float | None = None
    memory_mib: int | None = None
    gpus: int = 0
    timeout_scale: float = 1.0
    grace_seconds: float = facts.TERMINATION_GRACE_SECONDS
    bucket: str = "pcr-local"
    queue: str = "pcr-local"
    region: str = "us-east-1"


def absolute_cwd(cwd: str | os.PathLike[str] | None) -> str:
    """Where jobs run, as an absolute path (a later process may start elsewhere)."""
    return os.path.abspath(os.fspath(cwd) if cwd is not None else os.getcwd())


def save(directory: Path, settings: BackendSettings) -> None:
    """Write `settings` to `directory/settings.json` (mode 0600: it holds the job environment)."""
    body = json.loads(settings.model_dump_json())
    write_atomically(directory / SETTINGS_FILE, dump_record(FORMAT, VERSION, body))


def load(directory: Path) -> BackendSettings | None:
    """The settings kept in `directory`, or None if no backend with arguments opened it yet.

    Args:
        directory: the account's directory.

    Returns:
        The settings, or None.

    Raises:
        AccountFormatError: the file is from a newer pcr-sdk or damaged.
    """
    path = directory / SETTINGS_FILE
    record = read_record(path, fmt=FORMAT, version=VERSION)
    if record is None:
        return None
    del record["format"], record["version"]
    try:
        return BackendSettings.model_validate(record)
    except ValidationError as err:
        raise AccountFormatError(f"{path}: not valid backend settings: {err}", path=path) from err
