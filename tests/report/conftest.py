"""Fixtures of the report's tests: `browser`, a headless Chromium (tests/support/browser.py)."""

from __future__ import annotations

from tests.support.browser import browser

__all__ = ["browser"]
