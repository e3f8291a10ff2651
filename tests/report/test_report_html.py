"""`render_html`: the page parses, shows one bar per job (or group) and the fixture's figures,
references nothing outside itself, escapes hostile job output and stays small at 10,000 jobs."""

from __future__ import annotations

import re

import pytest

from pcr_sdk.report import BatchReport, ReportJob, render_html
from pcr_sdk.report._html import duration, error_line
from tests.report._fixture import (
    EXPECTED_FAILED,
    EXPECTED_FAILURES,
    EXPECTED_SLOWEST,
    at,
    fixture_jobs,
    rerun_jobs,
)
from tests.report._page import URL_ATTRIBUTES, Element, Page, parse

FOREIGN_TAGS = {
    "script", "link", "img", "iframe", "object", "embed", "image", "use", "audio", "video",
    "source", "base", "form", "foreignobject", "frame", "frameset",
}  # fmt: skip


def _bars(page: Page) -> list[tuple[Element, list[Element]]]:
    """Each bar's <g> with the <rect> segments that follow it (in document order)."""
    out: list[tuple[Element, list[Element]]] = []
    for element in page.elements:
        if element.tag == "g" and "bar" in element.classes:
            out.append((element, []))
        elif element.tag == "rect" and out and element.attrs.get("class", "").startswith("seg-"):
            out[-1][1].append(element)
    return out


def _left(rects: list[Element]) -> float:
    return min(float(r.attrs["x"]) for r in rects)


def assert_self_contained(document: str, page: Page, *, hostile_text: bool = False) -> None:
    """No element or style can load anything; with job text that names no URL, no URL at all."""
    assert not page.errors
    for element in page.elements:
        assert element.tag not in FOREIGN_TAGS, element
        assert not URL_ATTRIBUTES & set(element.attrs), element
        assert not [a for a in element.attrs if a.startswith("on")], element
    lowered = document.lower()
    assert "<script" not in lowered
    assert "<img" not in lowered
    for style in page.find("style"):
        assert "url(" not in style.text
        assert "@import" not in style.text
    if not hostile_text:
        for needle in ("http:", "https:", "//", "src=", "href="):
            assert needle not in lowered, needle
    csp = [e for e in page.find("meta") if e.attrs.get("http-equiv") == "Content-Security-Policy"]
    assert csp
    assert "default-src 'none'" in csp[0].attrs["content"]


@pytest.fixture
def report() -> BatchReport:
    return BatchReport.build("batch-1", fixture_jobs(), now_ms=at(500))


@pytest.fixture
def page(report: BatchReport) -> Page:
    return parse(render_html(report))


def test_page_references_nothing_outside_itself(report: BatchReport) -> None:
    document = render_html(report)
    assert document.startswith("<!DOCTYPE html>")
    assert_self_contained(document, parse(document))


def test_one_bar_per_job_split_into_waiting_and_running(page: Page) -> None:
    bars = _bars(page)
    assert len(bars) == 11
    assert all("job" in g.classes for g, _ in bars)
    assert sorted(int(g.attrs["data-first"]) for g, _ in bars) == list(range(11))
    by_index = {int(g.attrs["data-first"]): (g, rects) for g, rects in bars}
    # job-d (index 3): blocked on job-a for 68 s, waiting 10 s, ran 20 s
    g, rects = by_index[3]
    assert [r.attrs["class"] for r in rects] == ["seg-blocked", "seg-wait", "seg-run"]
    assert (g.attrs["data-start"], g.attrs["data-run-start"], g.attrs["data-end"]) == (
        "2000", "80000", "100000",
    )  # fmt: skip
    assert "blocked on dependencies 1 min 08 s" in g.text
    assert "waiting 10.0 s" in g.text
    # job-e (index 4) never ran: no running segment
    g, rects = by_index[4]
    assert "seg-run" not in {r.attrs["class"] for r in rects}
    assert g.attrs["data-run-start"] == ""
    for _, rects in bars:
        assert rects
        assert all(float(r.attrs["width"]) > 0 for r in rects)


def test_bars_follow_time_order(page: Page) -> None:
    bars = _bars(page)
    starts = [int(g.attrs["data-start"]) for g, _ in bars]
    assert starts == sorted(starts)
    lefts = [_left(rects) for _, rects in bars]
    assert lefts == sorted(lefts)
    assert lefts[0] < lefts[-1]
    # x is proportional to time: job-g (created +5 s) is 5/115 of the way along
    span = max(float(r.attrs["x"]) + float(r.attrs["width"]) for _, rs in bars for r in rs)
    first = lefts[0]
    g_left = next(_left(rs) for g, rs in bars if g.attrs["data-first"] == "9")
    assert (g_left - first) / (span - first) == pytest.approx(5 / 115, abs=0.002)


def test_failures_are_marked_with_their_kind(page: Page) -> None:
    failed = {
        int(g.attrs["data-first"]): g.attrs["data-failure"]
        for g, _ in _bars(page)
        if "data-failure" in g.attrs
    }
    assert failed == {2: "non-zero-exit", 4: "dependency-failed", 6: "out-of-memory", 9: "timeout"}
    assert len(page.find("rect", "fail-mark")) == 4
    (g,) = [g for g, _ in _bars(page) if g.attrs["data-first"] == "6"]
    assert "o-failed" in g.classes
    assert "k-out-of-memory" in g.classes
    assert "FAILED" in g.text
    assert "out-of-memory" in g.text
    legend = page.find("div", "legend")[0].text
    for kind in failed.values():
        assert f"failure: {kind}" in legend


def test_summary_shows_the_fixture_figures(page: Page) -> None:
    shown = {
        "jobs": ("11", "11"),
        "wall_ms": ("115000", "1 min 55 s"),
        "run_total_ms": ("315000", "5 min 15 s"),
        "run_median_ms": ("20000", "20.0 s"),
        "wait_median_ms": ("10000", "10.0 s"),
        "wait_p95_ms": ("30000", "30.0 s"),
        "vcpu_hours": (repr(404 / 3600), "0.1122"),
        "attempts": ("13", "13"),
    }
    for key, (raw, text) in shown.items():
        element = page.by_key(key)
        assert (element.attrs["data-value"], element.text) == (raw, text), key
    summary = page.by_id("summary").text
    assert "3 AWS retries, 2 jobs retried by AWS Batch" in summary
    assert page.by_key("reruns").text == "0"
    assert "no job was rerun" in summary
    assert "GPU-hours 0.0056" in summary
    assert "AWS Batch records no RUNNABLE timestamp" in summary
    assert "last dependency" in summary
    assert page.inside(page.by_id("by-status"), "th")[0].text == "Final state"
    assert _counts(page, "by-status") == {"SUCCEEDED": "7", "FAILED": "4"}
    assert _counts(page, "by-failure") == {k: str(n) for k, n in EXPECTED_FAILURES.items()}


def _counts(page: Page, ident: str) -> dict[str, str]:
    rows = [e for e in page.inside(page.by_id(ident), "tr") if "data-key" in e.attrs]
    return {r.attrs["data-key"]: page.inside(r, "td")[1].text for r in rows}


def test_slowest_and_failed_tables(page: Page, report: BatchReport) -> None:
    def rows(section: str) -> list[Element]:
        return [e for e in page.inside(page.by_id(section), "tr") if "data-index" in e.attrs]

    index_of = {j.job_id: j.index for j in report.jobs}
    slowest = rows("slowest")
    assert [int(r.attrs["data-index"]) for r in slowest] == [index_of[i] for i in EXPECTED_SLOWEST]
    failed = rows("failed")
    assert [int(r.attrs["data-index"]) for r in failed] == [index_of[i] for i in EXPECTED_FAILED]
    oom = failed[2].text
    assert "FAILED (out-of-memory)" in oom
    assert "OutOfMemoryError: Container killed due to memory usage" in oom
    assert "allocating 8 GiB\nKilled" in oom
    assert "Every failed job, by index." in page.by_id("failed").text


def test_failed_table_is_capped_and_says_how_many_more() -> None:
    jobs = [
        ReportJob(job_id=f"f{i}", index=i, status="FAILED", failure="timeout", created_at=at(i))
        for i in range(60)
    ]
    page = parse(render_html(BatchReport.build("b", jobs, now_ms=at(100))))
    text = page.by_id("failed").text
    assert "Failed jobs (60)" in text
    assert "The first 50 failed jobs by index; 10 more are not listed" in text
    listed = [e for e in page.inside(page.by_id("failed"), "tr") if "data-index" in e.attrs]
    assert len(listed) == 50


def test_hostile_job_output_is_escaped() -> None:
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    attr_evil = '" onmouseover="alert(1)" x="'
    jobs = [
        ReportJob(
            job_id=f"id{evil}",
            index=0,
            status="FAILED",
            failure=f"kind{attr_evil}{evil}",
            status_reason=f"reason {evil}",
            created_at=at(0),
            started_at=at(1),
            stopped_at=at(2),
            log_tail=(f"line {evil}", "\x1b[31mred\x1b[0m and a \x00 bell\x07", "</pre></td>"),
        ),
        ReportJob(job_id="ok", index=1, status=f"WEIRD{evil}", created_at=at(0)),
    ]
    document = render_html(BatchReport.build(f"batch{evil}", jobs, now_ms=at(3)))
    page = parse(document)
    assert_self_contained(document, page, hostile_text=True)
    assert page.find("script") == []
    assert page.find("img") == []
    assert f"line {evil}" in page.text
    assert f"reason {evil}" in page.text
    assert "red and a \ufffd bell\ufffd" in page.text
    assert "\x1b" not in document
    assert "</pre></td>" in page.text
    (g,) = [g for g, _ in _bars(page) if g.attrs["data-first"] == "0"]
    assert g.attrs["data-failure"] == f"kind{attr_evil}{evil}"
    assert all(re.fullmatch(r"[a-z0-9-]+", c) for c in g.classes)


def test_unfinished_batch_shows_now_and_running_bars() -> None:
    jobs = [
        ReportJob(job_id="r", index=0, status="RUNNING", created_at=at(0), started_at=at(5)),
        ReportJob(job_id="w", index=1, status="RUNNABLE", created_at=at(1)),
        ReportJob(job_id="gone", index=2, status="EXPIRED", failure="expired"),
    ]
    page = parse(render_html(BatchReport.build("b", jobs, now_ms=at(60))))
    bars = {g.attrs["data-first"]: g for g, _ in _bars(page)}
    assert set(bars) == {"0", "1"}
    assert "o-running" in bars["0"].classes
    assert bars["0"].attrs["data-end"] == "60000"
    assert "o-waiting" in bars["1"].classes
    assert len(page.find("line", "now")) == 1
    assert "still running" in page.text
    assert page.inside(page.by_id("by-status"), "th")[0].text == "State"
    assert "1 jobs have no timestamp" in page.text
    assert page.by_key("wall_ms").attrs["data-value"] == "60000"
    assert "first created to now (still running)" in page.text


def test_large_batches_are_drawn_as_groups(report: BatchReport) -> None:
    page = parse(render_html(report, max_bars=4))
    bars = _bars(page)
    assert len(bars) == 4  # 11 jobs in groups of 3
    assert all("group" in g.classes for g, _ in bars[:3])
    assert [int(g.attrs["data-count"]) for g, _ in bars] == [3, 3, 3, 2]
    counted = sorted(
        i for g, _ in bars for i in range(int(g.attrs["data-first"]), int(g.attrs["data-last"]) + 1)
    )
    assert len(counted) >= 11
    # the first group (created at 0, 0, 1 s: indices 0, 1, 2) holds job-c's failure
    first = bars[0][0]
    assert (first.attrs["data-first"], first.attrs["data-last"]) == ("0", "2")
    assert "o-failed" in first.classes
    assert "3 jobs" in first.text
    assert "non-zero-exit 1" in first.text
    # its running part is split by outcome: 2 of 3 succeeded, 1 of 3 failed
    strips = {
        r.attrs["data-share"]: float(r.attrs["height"])
        for r in bars[0][1]
        if "data-share" in r.attrs
    }
    assert set(strips) == {"succeeded", "failed"}
    assert strips["succeeded"] == pytest.approx(2 * strips["failed"], abs=0.2)
    assert "drawn as 4 bars" in page.text


def _big_batch(count: int, *, log_chars: int) -> list[ReportJob]:
    line = "x" * log_chars
    jobs = []
    for i in range(count):
        failed = i % 20 == 0
        jobs.append(
            ReportJob(
                job_id=f"0123456789abcdef0123456789abcdef:{i}",
                index=i,
                status="FAILED" if failed else "SUCCEEDED",
                failure="non-zero-exit" if failed else None,
                status_reason="Essential container in task exited" if failed else None,
                created_at=at(0),
                started_at=at(5 + i // 50),
                stopped_at=at(65 + i // 50 + i % 7),
                vcpus=1,
                attempts=1 + i % 3,
                array_id="0123456789abcdef0123456789abcdef",
                log_tail=tuple(f"{n} {line}" for n in range(20)),
            )
        )
    return jobs


@pytest.mark.slow
def test_ten_thousand_jobs_fit_in_two_megabytes() -> None:
    report = BatchReport.build("big", _big_batch(10_000, log_chars=400), now_ms=at(10_000))
    document = render_html(report)
    size = len(document.encode())
    assert size < 2_000_000, size
    page = parse(document)
    assert_self_contained(document, page)
    bars = _bars(page)
    assert 100 <= len(bars) <= 200
    assert all("group" in g.classes for g, _ in bars)
    assert sum(int(g.attrs["data-count"]) for g, _ in bars) == 10_000
    starts = [int(g.attrs["data-run-start"]) for g, _ in bars]
    assert starts == sorted(starts)
    assert page.by_key("jobs").text == "10000"
    assert "The first 50 failed jobs by index; 450 more are not listed" in page.text


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (None, "\u2013"),
        (0, "0 ms"),
        (999.4, "999 ms"),
        (1000, "1.0 s"),
        (59_940, "59.9 s"),
        (60_000, "1 min 00 s"),
        (3_599_000, "59 min 59 s"),
        (3_600_000, "1 h 00 min"),
        (90_061_000, "25 h 01 min"),
    ],
)
def test_duration_format(ms: float | None, text: str) -> None:
    assert duration(ms) == text


# -- reruns, log boxes, the legend ------------------------------------------------------------


@pytest.fixture
def rerun_page() -> Page:
    return parse(render_html(BatchReport.build("r", rerun_jobs(), now_ms=at(100))))


def _row(page: Page, index: int) -> Element:
    (found,) = [g for g, _ in _bars(page) if g.attrs["data-first"] == str(index)]
    return found


def test_a_rerun_is_drawn_on_its_jobs_row_after_the_attempt_it_replaced(rerun_page: Page) -> None:
    bars = _bars(rerun_page)
    assert len(bars) == 6  # one row per job, not per attempt
    row = _row(rerun_page, 2)
    assert "rerun" in row.classes
    assert row.attrs["data-attempt"] == "2"
    assert row.attrs["data-start"] == "0"  # the row begins with the first attempt
    earlier, current = [g for g in rerun_page.inside(row, "g") if "attempt" in g.classes]
    assert "earlier" in earlier.classes
    assert earlier.attrs["data-attempt"] == "1"
    assert float(earlier.attrs["opacity"]) < 1
    assert current.attrs["data-attempt"] == "2"
    assert _left(rerun_page.inside(earlier, "rect")) < _left(rerun_page.inside(current, "rect"))
    marks = [r.attrs.get("data-failure") for r in rerun_page.inside(row, "rect")
             if "fail-mark" in r.attrs["class"]]  # fmt: skip
    assert marks == ["timeout", None]  # the replaced attempt's kind, then the rerun's mark
    assert "(rerun, attempt 2)" in row.text
    assert "before: attempt 1, timeout" in row.text
    assert "rerun" not in _row(rerun_page, 0).classes


def test_the_counts_tell_aws_retries_from_reruns(rerun_page: Page) -> None:
    assert rerun_page.by_key("reruns").text == "3"
    assert rerun_page.by_key("attempts").text == "10"
    summary = rerun_page.by_id("summary").text
    assert "1 AWS retry, 1 job retried by AWS Batch" in summary
    assert "of 3 jobs (pcr retry); 1 failed again" in summary
    assert "over 9 runs, reruns included" in summary
    table = rerun_page.by_id("by-failure")
    assert [e.text for e in rerun_page.inside(table, "th")] == [
        "Failure kind", "Jobs", "Before a rerun",
    ]  # fmt: skip
    rows = {
        r.attrs["data-key"]: [c.text for c in rerun_page.inside(r, "td")[1:]]
        for r in rerun_page.inside(table, "tr")
        if "data-key" in r.attrs
    }
    assert rows == {"non-zero-exit": ["1", "2"], "timeout": ["\u2013", "1"]}


def test_the_reruns_section_lists_the_replaced_attempts_and_how_they_ended(
    rerun_page: Page,
) -> None:
    section = rerun_page.by_id("reruns")
    assert "Rerun jobs (3)" in section.text
    rows = [e for e in rerun_page.inside(section, "tr") if "data-index" in e.attrs]
    assert [(r.attrs["data-index"], r.attrs["data-attempt"]) for r in rows] == [
        ("1", "1"), ("2", "1"), ("4", "1"),
    ]  # fmt: skip
    assert "FAILED (timeout)" in rows[1].text
    assert "attempt 2: FAILED (non-zero-exit)" in rows[1].text
    assert "attempt 2: SUCCEEDED" in rows[0].text
    failed = [e for e in rerun_page.inside(rerun_page.by_id("failed"), "tr")
              if "data-index" in e.attrs]  # fmt: skip
    assert [(r.attrs["data-index"], r.attrs["data-attempt"]) for r in failed] == [("2", "2")]
    assert "2 (rerun)" in failed[0].text


def test_a_succeeded_job_shows_no_failure_sounding_reason(rerun_page: Page) -> None:
    rows = [e for e in rerun_page.elements if e.attrs.get("data-status") == "SUCCEEDED"]
    assert rows
    for row in rows:
        (reason,) = [c for c in rerun_page.inside(row, "td") if "reason" in c.classes]
        assert reason.text == ""
    assert "Essential container in task exited" in rerun_page.by_id("failed").text


def test_a_failed_jobs_box_shows_its_error_line_and_leaves_botocore_out(
    rerun_page: Page,
) -> None:
    (row,) = [e for e in rerun_page.inside(rerun_page.by_id("reruns"), "tr")
              if e.attrs.get("data-index") == "1"]  # fmt: skip
    (above,) = [p for p in rerun_page.inside(row, "p") if "error-line" in p.classes]
    assert above.text == "ValueError: broken input 1"
    (mark,) = rerun_page.inside(row, "mark")
    assert mark.text == "ValueError: broken input 1"
    assert "botocore" not in "".join(e.text for e in rerun_page.inside(row, "pre"))
    assert "1 line of botocore's own INFO logging left out" in row.text
    # the rerun that failed again: its error is the KeyError, before botocore's noise
    (again,) = [e for e in rerun_page.inside(rerun_page.by_id("failed"), "tr")
                if "data-index" in e.attrs]  # fmt: skip
    (mark,) = rerun_page.inside(again, "mark")
    assert mark.text == "KeyError: 'y'"
    assert "2 lines of botocore's own INFO logging left out" in again.text
    (slow,) = [e for e in rerun_page.inside(rerun_page.by_id("slowest"), "tr")
               if e.attrs.get("data-index") == "0"]  # fmt: skip
    assert "working\ndone" in slow.text
    assert rerun_page.inside(slow, "mark") == []  # only a failed job's box marks a line


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (("Traceback (most recent call last):", "  File 'w.py'", "ValueError: x"), 2),
        (("ERROR:pcr_sdk.worker:job 3 failed", "Traceback (most recent call last):"), 0),
        (("KeyError: 'y'", "INFO:root:cleanup"), 0),
        (("botocore.exceptions.NoCredentialsError: Unable to locate credentials",), 0),
        (("just output", "no error here"), None),
        ((), None),
    ],
)
def test_error_line(lines: tuple[str, ...], expected: int | None) -> None:
    assert error_line(lines) == expected


def test_the_legend_lists_only_what_is_drawn(rerun_page: Page, page: Page) -> None:
    def keys(shown: Page) -> set[str]:
        legend = shown.find("div", "legend")[0]
        return {e.attrs["data-key"] for e in shown.inside(legend, "span") if "data-key" in e.attrs}

    # no dependencies in the rerun batch: nothing blocked; no job still running
    assert keys(rerun_page) == {
        "wait", "run-succeeded", "run-failed", "earlier", "failure:non-zero-exit",
        "failure:timeout",
    }  # fmt: skip
    fixture = keys(page)
    assert "earlier" not in fixture
    assert "run-running" not in fixture  # the fixture's batch has finished
    assert {"blocked", "wait", "run-succeeded", "run-failed"} <= fixture
    drawn_kinds = {g.attrs["data-failure"] for g, _ in _bars(page) if "data-failure" in g.attrs}
    assert {k.removeprefix("failure:") for k in fixture if k.startswith("failure:")} == drawn_kinds


def test_the_legend_of_groups_names_only_the_kinds_their_marks_show(report: BatchReport) -> None:
    grouped = parse(render_html(report, max_bars=2))
    legend = grouped.find("div", "legend")[0]
    kinds = {e.attrs["data-key"] for e in grouped.inside(legend, "span")
             if e.attrs.get("data-key", "").startswith("failure:")}  # fmt: skip
    marked = {g.attrs["data-failure"] for g, _ in _bars(grouped) if "data-failure" in g.attrs}
    assert kinds == {f"failure:{k}" for k in marked}
    assert len(kinds) < len(report.counts_by_failure)  # fewer marks than kinds: fewer entries
