"""Any job list, however incomplete or inconsistent, builds a report with consistent figures
and renders a page that parses with one bar per placed job (or group).

Jobs may share an index: the highest attempt (then the last id) is the index's current job,
the others are attempts a rerun replaced."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from pcr_sdk.report import BatchReport, ReportJob, render_html
from tests.report._page import parse

STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED",
            "EXPIRED", "ODD")  # fmt: skip
KINDS = (None, "non-zero-exit", "out-of-memory", "timeout", "dependency-failed", "expired", "x")
IDS = ("a", "b", "c", "arr", "arr:0", "arr:1", "arr:2", "gone")
TIMES = st.none() | st.integers(min_value=1_000, max_value=1_000_000)


@st.composite
def jobs(draw: st.DrawFn) -> list[ReportJob]:
    ids = draw(st.lists(st.sampled_from(IDS), unique=True, max_size=len(IDS)))
    out = []
    for index, job_id in enumerate(ids):
        out.append(
            ReportJob(
                job_id=job_id,
                index=draw(st.integers(min_value=0, max_value=20)) if index % 3 else index,
                status=draw(st.sampled_from(STATUSES)),
                failure=draw(st.sampled_from(KINDS)),
                status_reason=draw(st.none() | st.text(max_size=20)),
                created_at=draw(TIMES),
                started_at=draw(TIMES),
                stopped_at=draw(TIMES),
                depends_on=tuple(draw(st.lists(st.sampled_from(IDS), max_size=3))),
                vcpus=draw(st.sampled_from((0.0, 0.25, 1.0, 4.0))),
                gpus=draw(st.integers(min_value=0, max_value=2)),
                attempts=draw(st.integers(min_value=0, max_value=4)),
                attempt=draw(st.integers(min_value=1, max_value=3)),
                array_id="arr" if job_id.startswith("arr:") else None,
                log_tail=tuple(draw(st.lists(st.text(max_size=30), max_size=3))),
            )
        )
    return out


@given(jobs(), st.integers(min_value=0, max_value=2_000_000), st.integers(1, 5))
def test_any_job_list_gives_consistent_figures(
    batch: list[ReportJob], now: int, max_bars: int
) -> None:
    report = BatchReport.build("b", batch, now_ms=now)
    current: dict[int, ReportJob] = {}
    for job in sorted(batch, key=lambda j: (j.attempt, j.job_id)):
        current[job.index] = job
    assert [t.job for t in report.timings] == [current[i] for i in sorted(current)]
    assert len(report.earlier) == len(batch) - len(current)
    assert report.reruns == sum(1 for j in batch if j.attempt > 1)
    assert sum(report.counts_by_status.values()) == len(current)
    assert sum(report.counts_by_failure.values()) == report.failed_total
    assert report.failed_total == sum(1 for j in current.values() if j.failed)
    assert sum(report.earlier_failures.values()) == sum(1 for t in report.earlier if t.job.failed)
    assert report.finished == all(j.finished for j in current.values())
    if report.wall_ms is not None:
        assert report.wall_ms >= 0
    if not report.finished and report.first_created_ms is not None:
        assert report.end_ms == now
    every = report.timings + report.earlier
    runs = [t.run_ms for t in every if t.run_ms is not None]
    assert all(r >= 0 for r in runs)
    assert report.run_total_ms == sum(runs)
    assert report.run_jobs == len(runs)
    slowest = [t.run_ms or 0 for t in report.slowest]
    assert len(slowest) == min(10, len(runs))
    assert slowest == sorted(runs, reverse=True)[:10]
    if runs:
        assert report.run_median_ms is not None
        assert min(runs) <= report.run_median_ms <= max(runs)
    waits = [t.wait_ms for t in every if t.wait_ms is not None]
    assert all(w >= 0 for w in waits)
    if waits:
        assert report.wait_median_ms is not None
        assert report.wait_p95_ms is not None
        assert min(waits) <= report.wait_median_ms <= max(waits)
        assert report.wait_median_ms <= report.wait_p95_ms <= max(waits)
    else:
        assert (report.wait_median_ms, report.wait_p95_ms) == (None, None)
    assert report.vcpu_hours >= 0
    assert 0 <= report.retries <= report.attempts
    json.dumps(report.to_json())

    page = parse(render_html(report, max_bars=max_bars))
    assert not page.errors
    bars = [e for e in page.elements if e.tag == "g" and "bar" in e.classes]
    drawn = len(current) - report.undrawn
    assert sum(int(b.attrs["data-count"]) for b in bars) == drawn
    assert len(bars) <= max_bars
    starts = [int(b.attrs["data-start"]) for b in bars]
    assert starts == sorted(starts)
    for bar in bars:
        rects = page.inside(bar, "rect")
        assert any(float(r.attrs["width"]) > 0 for r in rects if r.attrs["class"] != "fail-mark")
        assert all(float(r.attrs["width"]) >= 0 for r in rects)
