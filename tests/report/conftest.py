"""Fixtures of the report's tests: `browser`, a headless Chromium (tests/report/_browser.py)."""

from __future__ import annotations

from tests.report._browser import browser

__all__ = ["browser"]
