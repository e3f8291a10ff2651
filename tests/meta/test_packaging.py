"""What each extra installs: the type stubs go with every workstation extra, never the core.

boto3 ships no types, so an application's type checker sees every client (and `session=`)
as `Any` unless boto3-stubs with the batch, s3 and logs services is installed. The extras a
workstation installs bring them; the core, which worker images install, does not.
`make typecheck-wheel` checks the same from a built wheel, with mypy.
"""

from __future__ import annotations

import importlib.metadata
import re
from typing import Final

import pytest

STUBS: Final = "boto3-stubs"
SERVICES: Final = {"batch", "s3", "logs"}
_REQUIREMENT: Final = re.compile(
    r"^(?P<name>[A-Za-z0-9_.-]+)(\[(?P<extras>[^\]]*)\])?[^;]*(;\s*extra\s*==\s*\"(?P<extra>[\w-]+)\")?"
)


def _requirements() -> list[tuple[str, set[str], str | None]]:
    """(name, its extras, the pcr-sdk extra it belongs to or None for the core)."""
    found = []
    for text in importlib.metadata.requires("pcr-sdk") or []:
        match = _REQUIREMENT.match(text)
        assert match is not None, text
        extras = {e.strip() for e in (match["extras"] or "").split(",") if e.strip()}
        found.append((match["name"].lower(), extras, match["extra"]))
    return found


@pytest.mark.parametrize("extra", ["local", "cli", "testing", "typing"])
def test_every_workstation_extra_brings_the_stubs(extra: str) -> None:
    stubs = [extras for name, extras, where in _requirements() if name == STUBS and where == extra]
    assert stubs, f"pcr-sdk[{extra}] does not install {STUBS}"
    assert stubs[0] >= SERVICES


def test_the_core_installs_no_stubs() -> None:
    core = [name for name, _, where in _requirements() if where is None]
    assert "boto3" in core
    assert not [name for name in core if "stubs" in name or name.startswith("mypy")]
