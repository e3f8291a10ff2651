"""The report in a real headless Chromium (Debian's package, driven by Playwright).

The page loads without a console error and without any request but its own file; its bars
are laid out (a non-zero box each, one per job or group, x following start times) and its
summary is visible. Screenshots are kept in `test-artifacts/report/` (git-ignored) at the
repository root. Without Chromium or Playwright the tests skip, except under CI (the `CI`
environment variable set), where they fail: .ci/run installs Chromium.
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

from pcr_sdk.report import BatchReport, ReportJob, render_html
from tests.report._fixture import at, fixture_jobs

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

pytestmark = pytest.mark.browser

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


class _Loaded:
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


def _assert_laid_out_in_time_order(bars: list[Bar]) -> None:
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


def test_fixture_report_in_chromium(browser: BrowserContext, tmp_path: Path) -> None:
    report = BatchReport.build("batch-1", fixture_jobs(), now_ms=at(500))
    loaded = _Loaded(browser, render_html(report), tmp_path / "report.html")
    bars = loaded.bars()
    assert len(bars) == 11
    assert all(bar.count == 1 for bar in bars)
    _assert_laid_out_in_time_order(bars)
    page = loaded.page
    assert page.locator("#summary").is_visible()
    wall = page.locator("[data-key=wall_ms]")
    assert wall.is_visible()
    assert wall.inner_text() == "1 min 55 s"
    assert page.locator("[data-key=wait_p95_ms]").inner_text() == "30.0 s"
    assert page.locator("#wait-note").is_visible()
    assert "no RUNNABLE timestamp" in page.locator("#wait-note").inner_text()
    assert page.locator("#failed tr[data-index]").count() == 4
    loaded.screenshot("report-fixture.png", tmp_path, full_page=True)
    loaded.close()


def test_ten_thousand_jobs_in_chromium(browser: BrowserContext, tmp_path: Path) -> None:
    jobs = [
        ReportJob(
            job_id=f"arr:{i}",
            index=i,
            status="FAILED" if i % 97 == 0 else "SUCCEEDED" if i < 9_000 else "RUNNING",
            failure="out-of-memory" if i % 97 == 0 else None,
            created_at=at(0),
            started_at=at(3 + i // 40),
            stopped_at=at(40 + i // 40) if i < 9_000 else None,
            vcpus=1,
            attempts=1,
            array_id="arr",
        )
        for i in range(10_000)
    ]
    document = render_html(BatchReport.build("big", jobs, now_ms=at(400)))
    loaded = _Loaded(browser, document, tmp_path / "big.html")
    bars = loaded.bars()
    assert 100 <= len(bars) <= 200
    assert sum(bar.count for bar in bars) == 10_000
    _assert_laid_out_in_time_order(bars)
    assert loaded.page.locator("[data-key=jobs]").inner_text() == "10000"
    assert loaded.page.locator("line.now").count() == 1
    loaded.screenshot("report-10000-jobs.png", tmp_path, full_page=False)
    loaded.close()
