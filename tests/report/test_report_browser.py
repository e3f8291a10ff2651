"""The report in a real headless Chromium (Debian's package, driven by Playwright).

The page loads without a console error and without any request but its own file; its bars
are laid out (a non-zero box each, one per job or group, x following start times) and its
summary is visible. Screenshots are kept in `test-artifacts/report/` (git-ignored) at the
repository root. Without Chromium or Playwright the tests skip, except under CI (the `CI`
environment variable set), where they fail: .ci/run installs Chromium.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pcr_sdk.report import BatchReport, ReportJob, render_html
from tests.report._fixture import at, fixture_jobs, rerun_jobs
from tests.support.browser import Loaded, assert_laid_out_in_time_order

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

pytestmark = pytest.mark.browser


def test_fixture_report_in_chromium(browser: BrowserContext, tmp_path: Path) -> None:
    report = BatchReport.build("batch-1", fixture_jobs(), now_ms=at(500))
    loaded = Loaded(browser, render_html(report), tmp_path / "report.html")
    bars = loaded.bars()
    assert len(bars) == 11
    assert all(bar.count == 1 for bar in bars)
    assert_laid_out_in_time_order(bars)
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
    loaded = Loaded(browser, document, tmp_path / "big.html")
    bars = loaded.bars()
    assert 100 <= len(bars) <= 200
    assert sum(bar.count for bar in bars) == 10_000
    assert_laid_out_in_time_order(bars)
    assert loaded.page.locator("[data-key=jobs]").inner_text() == "10000"
    assert loaded.page.locator("line.now").count() == 1
    loaded.screenshot("report-10000-jobs.png", tmp_path, full_page=False)
    loaded.close()


def test_reruns_error_lines_and_the_legend_in_chromium(
    browser: BrowserContext, tmp_path: Path
) -> None:
    report = BatchReport.build("r", rerun_jobs(), now_ms=at(100))
    loaded = Loaded(browser, render_html(report), tmp_path / "reruns.html")
    bars = loaded.bars()
    assert len(bars) == 6  # one row per job: a rerun is on its job's row
    assert_laid_out_in_time_order(bars)
    page = loaded.page
    row = page.locator('svg.timeline g.bar[data-first="2"]')
    earlier = row.locator("g.attempt.earlier").bounding_box()
    current = row.locator("g.attempt.current").bounding_box()
    assert earlier is not None
    assert current is not None
    assert earlier["x"] + earlier["width"] <= current["x"]  # the attempt it replaced, first
    assert abs(earlier["y"] - current["y"]) < 1  # on the same row
    # a failed job's box opens at its end: the error line is in view, the traceback's top not
    box = page.locator('#reruns tr[data-index="1"] div.log')
    sizes = box.evaluate("e => [e.scrollHeight, e.clientHeight]")
    assert sizes[0] > sizes[1]  # the lines overflow the box
    shown = box.bounding_box()
    mark = box.locator("mark.error-line").bounding_box()
    assert shown is not None
    assert mark is not None
    assert shown["y"] <= mark["y"]
    assert mark["y"] + mark["height"] <= shown["y"] + shown["height"] + 0.5
    assert page.locator('#reruns tr[data-index="1"] p.error-line').is_visible()
    assert "botocore" not in box.inner_text()
    again = page.locator("#failed tr[data-index] mark.error-line")
    assert again.inner_text() == "KeyError: 'y'"
    assert again.is_visible()
    # a succeeded job shows no reason; the legend shows only what was drawn, all of it
    succeeded = page.locator('tr[data-status="SUCCEEDED"] td.reason')
    assert succeeded.count() > 0
    assert set(succeeded.all_inner_texts()) == {""}
    legend = page.locator("div.legend > span")
    assert legend.count() == 6
    assert all(item.is_visible() for item in legend.all())
    assert "an attempt a rerun replaced" in page.locator("div.legend").inner_text()
    loaded.screenshot("report-reruns.png", tmp_path, full_page=True)
    loaded.close()
