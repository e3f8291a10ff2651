"""Headless Chromium for the report's tests (Debian's package, driven by Playwright).

`browser` is a pytest fixture (a module's tests share one Chromium); `Loaded` opens a page from
a file and records any console error and every request. Without Chromium or Playwright a test
skips, except under CI (the `CI` environment variable set), where it fails: .ci/run installs
Chromium. Screenshots are kept in `test-artifacts/report/` (git-ignored).
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

CHROMIUM = Path(os.environ.get("PCR_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "report"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_READ_BARS = """bars => bars.map(g => {
  const box = g.getBoundingClientRect();
  const first = g.querySelector("rect[class^='seg-']").getBoundingClientRect();
  return {start: Number(g.dataset.start), count: Number(g.dataset.count), x: box.x, y: box.y,
          width: box.width, height: box.height, first_x: first.x};
})"""


@dataclass(frozen=True)
class Bar:
    """One bar as laid out: its data-start and data-count, its box, its first segment's x."""

    start: int
    count: int
    x: float
    y: float
    width: float
    height: float
    first_x: float


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _unavailable(reason: str) -> NoReturn:
    if _in_ci():
        pytest.fail(f"{reason}: CI must run the browser test (.ci/run installs chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """Chromium with a fresh profile (user data dir), shared by this module's tests."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (pip install -e '.[dev]')")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(10_000)
        try:
            yield context
        finally:
            context.close()


class Loaded:
    """A report page opened from a file, with what the browser reported while loading it."""

    def __init__(self, browser: BrowserContext, document: str, path: Path) -> None:
        path.write_text(document, encoding="utf-8")
        self.url = path.as_uri()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page: Page = browser.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(self.url, wait_until="load")

    def bars(self) -> list[Bar]:
        """Every bar in document order, laid out by the browser (read in one round trip)."""
        rows = self.page.locator("svg.timeline g.bar").evaluate_all(_READ_BARS)
        return [Bar(**row) for row in rows]

    def screenshot(self, name: str, directory: Path, *, full_page: bool) -> Path:
        shot = directory / name
        self.page.screenshot(path=str(shot), full_page=full_page)
        assert shot.read_bytes()[:8] == PNG_SIGNATURE
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, ARTIFACTS / name)
        return shot

    def close(self) -> None:
        assert self.errors == []
        assert self.requests == [self.url]  # nothing but the page itself was fetched
        self.page.close()


def assert_laid_out_in_time_order(bars: list[Bar]) -> None:
    for bar in bars:
        assert bar.width > 0
        assert bar.height > 0
        assert bar.first_x >= bar.x
    for a, b in itertools.pairwise(bars):
        assert a.start <= b.start
        assert a.y < b.y  # one row each, top to bottom
        if a.start < b.start:
            assert a.first_x < b.first_x
        else:
            assert a.first_x == pytest.approx(b.first_x, abs=0.5)
