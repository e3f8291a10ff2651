"""A container's image and environment, passed so that nothing a job definition says becomes
an option of the container CLI (`_containers` builds the rest).

The image must follow Docker's reference grammar (distribution/reference: lower-case path
components, an optional registry host and port, tag and digest), so it can never start with a
`-`; the options end with `--`, after which the CLI reads the image and the command as
arguments only. The job's environment goes through an env file (mode 0600, in a directory only
this user can enter), never through the command line, where `ps` would show the backend's
secret to every user of the machine.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Final

_ALPHANUMERIC: Final = r"[a-z0-9]+"
_SEPARATOR: Final = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT: Final = rf"{_ALPHANUMERIC}(?:{_SEPARATOR}{_ALPHANUMERIC})*"
_DOMAIN_COMPONENT: Final = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST: Final = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])"
_NAME: Final = rf"(?:{_HOST}(?::[0-9]+)?/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG: Final = r"[\w][\w.-]{0,127}"
_DIGEST: Final = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
REFERENCE: Final = re.compile(rf"(?P<name>{_NAME})(?::{_TAG})?(?:@{_DIGEST})?", re.ASCII)
"""Docker's image reference grammar (github.com/distribution/reference, regexp.go)."""
MAX_NAME_LENGTH: Final = 255
_ENV_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ImageReferenceError(ValueError):
    """An image that is not a Docker reference."""


class EnvironmentFileError(ValueError):
    """A variable an env file cannot carry (a name that is not one, a line break)."""


def check_reference(image: str) -> str:
    """`image` if it is a valid Docker image reference.

    Args:
        image: what a definition or an override names as its image.

    Returns:
        `image`, unchanged.

    Raises:
        ImageReferenceError: it is not (e.g. it starts with `-`, or has upper-case letters).
    """
    found = REFERENCE.fullmatch(image)
    if found is None or len(found.group("name")) > MAX_NAME_LENGTH:
        raise ImageReferenceError(f"invalid reference format: {image!r} is not a Docker image name")
    return image


def write_env_file(path: Path, environment: Mapping[str, str]) -> Path:
    """Write `environment` as a docker env file at `path` (new, mode 0600).

    Args:
        path: where to write it (must not exist).
        environment: the variables.

    Returns:
        `path`.

    Raises:
        EnvironmentFileError: a name that is not a variable name, or a value with a line break.
        OSError: the file cannot be written.
    """
    lines = []
    for name, value in environment.items():
        if not _ENV_NAME.fullmatch(name):
            raise EnvironmentFileError(f"{name!r} is not an environment variable name")
        if "\n" in value or "\r" in value:
            raise EnvironmentFileError(
                f"environment variable {name} holds a line break, which docker's --env-file "
                "cannot pass"
            )
        lines.append(f"{name}={value}\n")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.writelines(lines)
    return path
