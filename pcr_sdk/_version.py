"""The one place pcr-sdk's version is written: pyproject.toml reads it (setuptools' dynamic
version), `pcr_sdk.__version__` re-exports it, and CHANGELOG.md's latest release must match
it (tests/meta/test_version.py)."""

from __future__ import annotations

from typing import Final

__version__: Final = "0.1.0"
