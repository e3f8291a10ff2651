"""The version is written once (pcr_sdk/_version.py): the package, its metadata and the
CHANGELOG's latest release agree."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import pcr_sdk
from pcr_sdk._version import __version__

CHANGELOG = Path(__file__).resolve().parents[2] / "CHANGELOG.md"
RELEASE = re.compile(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", re.MULTILINE)


def test_the_package_its_metadata_and_the_changelog_agree() -> None:
    text = CHANGELOG.read_text(encoding="utf-8")
    releases = RELEASE.findall(text)
    assert releases, "CHANGELOG.md names no release"
    assert pcr_sdk.__version__ == __version__
    assert importlib.metadata.version("pcr-sdk") == __version__
    assert releases[0] == __version__


def test_the_changelog_keeps_its_form() -> None:
    """Keep a Changelog: an Unreleased section first, then releases newest first."""
    text = CHANGELOG.read_text(encoding="utf-8")
    headings = re.findall(r"^## (.*)$", text, re.MULTILINE)
    assert headings[0] == "[Unreleased]"
    versions = [tuple(map(int, v.split("."))) for v in RELEASE.findall(text)]
    assert versions == sorted(versions, reverse=True)
    assert len(headings) == 1 + len(versions)
