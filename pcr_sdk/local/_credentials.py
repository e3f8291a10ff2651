"""The local backend's own access key and secret: what every request on its socket is signed with.

A backend with a data directory keeps them in `<data_dir>/credentials` (mode 0600, AWS's shared
credentials format, profile `default`) and reuses them on the next start, so the shells holding
the export lines of `pcr local serve` keep working after a restart. A temporary backend makes
random ones.
"""

from __future__ import annotations

import base64
import configparser
import io
import os
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

CREDENTIALS_FILE: Final = "credentials"
_SECTION: Final = "default"
_KEY_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_KEY_PREFIX: Final = "PCRL"
_KEY_RANDOM_CHARS: Final = 16
_SECRET_BYTES: Final = 30  # 40 characters, as long as an AWS secret access key
_PRIVATE: Final = 0o600

TokenSource = Callable[[int], bytes]
"""`n` random bytes (`secrets.token_bytes`; a test passes a seeded one)."""


class CredentialsFileError(OSError):
    """`<data_dir>/credentials` cannot be used: unreadable, malformed or open to other users."""


@dataclass(frozen=True)
class LocalCredentials:
    """An access key id and secret access key of one local backend (never a real AWS key)."""

    access_key_id: str
    secret_access_key: str = field(repr=False)

    @classmethod
    def generate(cls, token_bytes: TokenSource = secrets.token_bytes) -> LocalCredentials:
        """Fresh random keys: `PCRL` and 16 base32 characters, and a 40-character secret."""
        raw = token_bytes(_KEY_RANDOM_CHARS)
        key = _KEY_PREFIX + "".join(_KEY_ALPHABET[byte % 32] for byte in raw)
        secret = base64.urlsafe_b64encode(token_bytes(_SECRET_BYTES)).decode()
        return cls(key, secret)

    def environment(self) -> dict[str, str]:
        """`AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
        }


def load_or_create(
    directory: Path, token_bytes: TokenSource = secrets.token_bytes
) -> LocalCredentials:
    """The keys in `directory/credentials`; made (mode 0600) if the file does not exist.

    Args:
        directory: the data directory.
        token_bytes: the random source of new keys.

    Returns:
        The keys.

    Raises:
        CredentialsFileError: the file is open to other users, is not a regular file of this
            user, or does not hold both keys.
        OSError: the directory or the file cannot be created or read.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / CREDENTIALS_FILE
    fresh = LocalCredentials.generate(token_bytes)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, _PRIVATE)
    except FileExistsError:
        return _read(path)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(_render(fresh))
    return fresh


def _render(credentials: LocalCredentials) -> str:
    parser = configparser.ConfigParser(interpolation=None)
    parser[_SECTION] = {
        "aws_access_key_id": credentials.access_key_id,
        "aws_secret_access_key": credentials.secret_access_key,
    }
    text = io.StringIO()
    text.write("# pcr-sdk local backend: keys of this data directory (never AWS keys)\n")
    parser.write(text)
    return text.getvalue()


def _read(path: Path) -> LocalCredentials:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as err:
        raise CredentialsFileError(err.errno, f"cannot open {path}: {err.strerror}") from err
    with os.fdopen(fd, encoding="utf-8") as source:
        status = os.fstat(source.fileno())
        if not stat.S_ISREG(status.st_mode) or status.st_uid != os.getuid():
            raise CredentialsFileError(f"{path} is not a regular file of this user")
        if status.st_mode & 0o077:
            raise CredentialsFileError(
                f"{path} is open to other users (mode {stat.S_IMODE(status.st_mode):o}): "
                f"run `chmod 600 {path}`"
            )
        text = source.read()
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source=str(path))
        section = parser[_SECTION]
        return LocalCredentials(section["aws_access_key_id"], section["aws_secret_access_key"])
    except (configparser.Error, KeyError) as err:
        raise CredentialsFileError(f"{path} does not hold both keys: {err}") from err
