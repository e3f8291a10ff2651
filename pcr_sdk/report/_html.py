"""`render_html`: a batch report as one self-contained page (inline CSS and SVG, no script).

Every text that comes from a job (ids, reasons, log lines) is escaped: job output is hostile
input. A Content-Security-Policy forbids any script, fetch or outside resource, so a page that
was tampered with still cannot reach the network.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Final

from pcr_sdk._private.public import public
from pcr_sdk.report._model import FAILURE_KINDS, BatchReport, JobTiming
from pcr_sdk.report._timeline import MAX_BARS, Bar, Span, bars, main_failure

DASH: Final = "\u2013"
"""What the page shows for an unknown figure, and between the ends of an index range."""
LOG_LINES_SHOWN: Final = 10
"""The last log lines a job's row shows."""
LINE_CHARS: Final = 300
"""A longer log line or reason is cut to this many characters."""
REASON_CHARS: Final = 500

FAILURE_COLOURS: Final = {
    "non-zero-exit": "#d81b60",
    "out-of-memory": "#8e24aa",
    "timeout": "#f9a825",
    "cancelled": "#6d4c41",
    "terminated": "#ef6c00",
    "dependency-failed": "#546e7a",
    "infrastructure": "#00838f",
    "expired": "#a1887f",
}
OTHER_FAILURE_COLOUR: Final = "#212121"
OUTCOME_COLOURS: Final = {
    "succeeded": "#2e7d32",
    "failed": "#c62828",
    "running": "#1565c0",
    "waiting": "#90a4ae",
    "expired": "#a1887f",
}
WAIT_COLOUR: Final = "#b0bec5"
BLOCKED_COLOUR: Final = "#e3e8eb"
EARLIER_OPACITY: Final = 0.4
"""How faint an attempt a rerun replaced is drawn, on its job's row."""
NOISE: Final = re.compile(
    r"^\W*(?:\S+ )?(?:DEBUG|INFO)[: ]+(?:botocore|boto3|urllib3|s3transfer)[.:\s]"
)
"""botocore's (and its kin's) own DEBUG and INFO logging, e.g. `INFO:botocore.credentials:Found
credentials in environment variables.`: left out of the log boxes, which say how many."""
ERROR_LINE: Final = re.compile(
    r"^\s*(?:[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Failure|Fault)\b(?::|$)"
    r"|(?:ERROR|CRITICAL|FATAL)\b|error:)"
)
"""A line that says what went wrong: a Python exception line (`ValueError: bad input`), or a
line logged at ERROR or CRITICAL."""

_STRIP_ORDER: Final = ("succeeded", "running", "waiting", "expired", "failed")
_WIDTH: Final = 1000
_PLOT_X0: Final = 130
_PLOT_X1: Final = 890
_AXIS_H: Final = 26
_MIN_BAR_W: Final = 1.5
_TICK_STEPS_MS: Final = tuple(
    s * 1000
    for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
              43200, 86400, 172800, 604800)
)  # fmt: skip
_ANSI: Final = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CLASS_UNSAFE: Final = re.compile(r"[^a-z0-9-]+")

_Colour = Callable[[str], str]
_Scale = Callable[[int], float]

_CSP: Final = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
_CSS: Final = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2327;
margin:0 auto;max-width:1200px;padding:16px 24px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
.meta{color:#555;margin:0}
.cards{display:flex;flex-wrap:wrap;gap:8px;margin:12px 0}
.card{border:1px solid #d5dbdf;border-radius:6px;padding:8px 12px;min-width:150px}
.card .label{color:#555;font-size:12px}.card .value{font-size:18px;font-weight:600}
.card .sub{color:#555;font-size:12px}
table{border-collapse:collapse;margin:6px 0}
th,td{border-bottom:1px solid #e3e8eb;padding:4px 10px;text-align:left;vertical-align:top}
th{font-weight:600;background:#f5f7f8}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.counts{display:flex;flex-wrap:wrap;gap:32px;align-items:flex-start}
.note{background:#fff8e1;border-left:4px solid #f9a825;padding:6px 10px;margin:10px 0}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:5px;
vertical-align:-1px}
.legend{display:flex;flex-wrap:wrap;gap:6px 16px;font-size:12px;margin:6px 0}
svg.timeline{width:100%;height:auto;display:block;border:1px solid #e3e8eb}
svg text{font:11px system-ui,sans-serif;fill:#37474f}
svg .grid{stroke:#eceff1}svg .now{stroke:#1565c0;stroke-dasharray:4 3}
.log{max-width:560px;max-height:180px;overflow:auto;display:flex;flex-direction:column-reverse;
background:#f5f7f8}
.log pre{margin:0;white-space:pre-wrap;word-break:break-all;padding:4px}
.log mark.error-line{background:#ffebee;color:#b71c1c;font-weight:600}
p.error-line{margin:0 0 4px;color:#b71c1c;font-weight:600;max-width:560px;word-break:break-all}
p.noise{margin:2px 0 0;color:#78909c;font-size:11px}
.reason{max-width:260px;word-break:break-word}
"""


@public("pcr_sdk.report")
def render_html(report: BatchReport, *, max_bars: int = MAX_BARS) -> str:
    """The report as one HTML page that references nothing outside itself.

    More jobs than `max_bars` are drawn as groups of consecutive (in time) jobs.
    """
    state = "finished" if report.finished else "still running"
    title = f"pcr report: batch {report.batch_id}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_text(title)}</title><style>{_CSS}</style></head><body>",
        f"<header><h1>Batch <code>{_text(report.batch_id)}</code></h1>",
        f'<p class="meta">{len(report.timings)} jobs, {state}; report made at '
        f"{_utc(report.now_ms)}; first job created {_utc(report.first_created_ms)}.</p>"
        "</header>",
        _summary(report),
        _timeline(report, max_bars),
        _jobs_section(
            "slowest",
            f"Slowest jobs ({len(report.slowest)})",
            report.slowest,
            "The longest run times, longest first; a job still running counts up to now.",
            "No job has started yet.",
        ),
        _jobs_section(
            "failed",
            f"Failed jobs ({report.failed_total})",
            report.failed,
            _failed_note(report),
            "No job failed.",
        ),
        _reruns_section(report),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


# -- summary ----------------------------------------------------------------------------------


def _summary(report: BatchReport) -> str:
    wall_end = "last stopped" if report.finished else "now (still running)"
    unit = "runs, reruns included" if report.reruns else "jobs"
    cards = [
        _card("jobs", "Jobs", str(len(report.timings)), len(report.timings),
              f"{report.failed_total} failed"),
        _card("wall_ms", "Wall time", duration(report.wall_ms), report.wall_ms,
              f"first created to {wall_end}"),
        _card("run_total_ms", "Total run time", duration(report.run_total_ms),
              report.run_total_ms, f"startedAt to stoppedAt, {report.run_jobs} {unit}"),
        _card("run_median_ms", "Median run time", duration(report.run_median_ms),
              report.run_median_ms, f"over {report.run_jobs} {unit}"),
        _card("wait_median_ms", "Median wait before start", duration(report.wait_median_ms),
              report.wait_median_ms, f"over {report.wait_jobs} {unit}"),
        _card("wait_p95_ms", "95th percentile wait", duration(report.wait_p95_ms),
              report.wait_p95_ms, "nearest rank"),
        _card("vcpu_hours", "vCPU-hours", hours(report.vcpu_hours), report.vcpu_hours,
              f"GPU-hours {hours(report.gpu_hours)}"),
        _card("attempts", "AWS Batch attempts", str(report.attempts), report.attempts,
              f"{_count(report.retries, 'AWS retry', 'AWS retries')}, "
              f"{_count(report.jobs_retried, 'job')} retried by AWS Batch"),
        _card("reruns", "Reruns", str(report.reruns), report.reruns, _reruns_sub(report)),
    ]  # fmt: skip
    note = (
        '<p class="note" id="wait-note">AWS Batch records no RUNNABLE timestamp, so a job\'s '
        "wait before start is measured from the later of its creation (<code>createdAt</code>)"
        " and its last dependency's end (<code>stoppedAt</code>) to its start "
        "(<code>startedAt</code>, when it began RUNNING): it includes the time spent PENDING, "
        "RUNNABLE and STARTING.</p>"
    )
    counts = (
        '<div class="counts">'
        + _counts_table(
            "by-status",
            "Final state" if report.finished else "State",
            {"Jobs": report.counts_by_status},
            _status_colour,
        )
        + _counts_table(
            "by-failure",
            "Failure kind",
            {"Jobs": report.counts_by_failure}
            | ({"Before a rerun": report.earlier_failures} if report.earlier_failures else {}),
            _failure_colour,
        )
        + "</div>"
    )
    return (
        '<section id="summary"><h2>Summary</h2><div class="cards">'
        + "".join(cards)
        + "</div>"
        + note
        + counts
        + "</section>"
    )


def _reruns_sub(report: BatchReport) -> str:
    if not report.reruns:
        return "no job was rerun (pcr retry)"
    again = sum(1 for t in report.timings if t.job.attempt > 1 and t.job.failed)
    return f"of {_count(report.jobs_rerun, 'job')} (pcr retry); {again} failed again"


def _card(key: str, label: str, shown: str, raw: float | None, sub: str) -> str:
    value = "" if raw is None else _number(raw)
    return (
        f'<div class="card"><div class="label">{label}</div>'
        f'<div class="value" data-key="{key}" data-value="{value}">{_text(shown)}</div>'
        f'<div class="sub">{_text(sub)}</div></div>'
    )


def _counts_table(
    ident: str, heading: str, columns: Mapping[str, Mapping[str, int]], colour: _Colour | None
) -> str:
    """One row per name in any column, one count column each (a dash for none)."""
    names = list(dict.fromkeys(name for counts in columns.values() for name in counts))
    if not names:
        return f'<table id="{ident}"><tr><th>{heading}</th></tr><tr><td>none</td></tr></table>'
    if ident == "by-failure":
        names.sort(key=_failure_order)
    head = "".join(f"<th>{_text(unit)}</th>" for unit in columns)
    rows = "".join(
        f'<tr data-key="{_attr(name)}"><td>{_swatch(colour(name)) if colour else ""}'
        f"{_text(name)}</td>"
        + "".join(f'<td class="num">{counts.get(name) or DASH}</td>' for counts in columns.values())
        + "</tr>"
        for name in names
    )
    return f'<table id="{ident}"><tr><th>{heading}</th>{head}</tr>{rows}</table>'


def _failure_order(kind: str) -> tuple[int, str]:
    return (FAILURE_KINDS.index(kind) if kind in FAILURE_KINDS else len(FAILURE_KINDS), kind)


# -- timeline ---------------------------------------------------------------------------------


class _Legend:
    """What the timeline drew, to list in its legend and nothing else."""

    ORDER: Final = ("blocked", "wait", "run-succeeded", "run-failed", "run-running",
                    "run-waiting", "run-expired", "earlier")  # fmt: skip

    def __init__(self) -> None:
        self.items: dict[str, tuple[str, str, float]] = {}

    def drew(self, key: str, colour: str, label: str, opacity: float = 1.0) -> None:
        self.items.setdefault(key, (colour, label, opacity))

    def html(self) -> str:
        def rank(key: str) -> tuple[int, int, str]:
            if key in self.ORDER:
                return (0, self.ORDER.index(key), key)
            return (1, *_failure_order(key.removeprefix("failure:")))

        spans = [
            f'<span data-key="{_attr(key)}">{_swatch(colour, opacity)}{_text(label)}</span>'
            for key, (colour, label, opacity) in sorted(
                self.items.items(), key=lambda i: rank(i[0])
            )
        ]
        return '<div class="legend">' + "".join(spans) + "</div>"


_RUN_LABELS: Final = {
    "succeeded": "running: succeeded",
    "failed": "running: failed",
    "running": "running: still running",
    "waiting": "not started yet",
    "expired": "running: expired",
}


def _timeline(report: BatchReport, max_bars: int) -> str:
    drawn = bars(report.rows, max_bars)
    if not drawn:
        return '<section id="timeline"><h2>Timeline</h2><p>No job to draw.</p></section>'
    grouped = any(b.count > 1 for b in drawn)
    t0 = min(b.row_start for b in drawn)
    t1 = max([b.end for b in drawn] + [s.end for b in drawn for s in b.earlier]
             + ([report.now_ms] if not report.finished else []))  # fmt: skip
    span = max(1, t1 - t0)
    row_h = 22 if len(drawn) <= 30 else 12 if len(drawn) <= 100 else 6
    labels = row_h >= 12
    height = _AXIS_H + len(drawn) * row_h + 6
    scale = (_PLOT_X1 - _PLOT_X0) / span

    def x(t: int) -> float:
        return _PLOT_X0 + (t - t0) * scale

    legend = _Legend()
    svg = [
        f'<svg class="timeline" viewBox="0 0 {_WIDTH} {height}" role="img" '
        f'aria-label="Timeline of {len(report.timings)} jobs">'
    ]
    svg += _axis(span, scale, height)
    if not report.finished:
        nx = _n(x(report.now_ms))
        svg.append(f'<line class="now" x1="{nx}" y1="{_AXIS_H - 6}" x2="{nx}" y2="{height}"/>')
    for row, bar in enumerate(drawn):
        svg.append(_bar_svg(bar, t0, x, _AXIS_H + row * row_h, row_h, labels, legend))
    svg.append("</svg>")
    how = (
        f"{len(report.timings)} jobs are drawn as {len(drawn)} bars, each a group of jobs that "
        "began one after another; a group's bar runs from its earliest creation to its latest "
        "end, and its running part starts at its earliest start. Its colour is the worst "
        "outcome among its jobs; hover for its counts."
        if grouped
        else "One row per job, in the order the jobs were created; hover a bar for its job."
    )
    if report.reruns:
        how += (
            " A rerun is drawn on its job's row, after the faint attempt it replaced (the "
            "mark at that attempt's end is its failure kind)."
        )
    undrawn = (
        f" {report.undrawn} jobs have no timestamp (AWS Batch no longer returns them) and are "
        "not drawn."
        if report.undrawn
        else ""
    )
    return (
        '<section id="timeline"><h2>Timeline</h2>'
        + legend.html()
        + "".join(svg)
        + f'<p class="meta">{_text(how)} Time runs from the first creation, '
        + f"{_utc(t0)}.{_text(undrawn)}</p></section>"
    )


def _axis(span: int, scale: float, height: int) -> list[str]:
    step = next((s for s in _TICK_STEPS_MS if span / s <= 8), _TICK_STEPS_MS[-1])
    if span < step:
        step = max(1, span)
    out = []
    tick = 0
    while tick <= span:
        tx = _n(_PLOT_X0 + tick * scale)
        out.append(
            f'<line class="grid" x1="{tx}" y1="{_AXIS_H - 6}" x2="{tx}" y2="{height}"/>'
            f'<text x="{tx}" y="{_AXIS_H - 10}" text-anchor="middle">'
            f"{'+' + duration(tick) if tick else '0'}</text>"
        )
        tick += step
    return out


def _segments(
    start: float,
    ready: float,
    run: float | None,
    end: float,
    y: float,
    h: float,
    legend: _Legend | None,
) -> tuple[list[str], float, float]:
    """The blocked and waiting rects of one attempt (told to `legend`, if any); (rects, where
    running starts, where it ends)."""
    if end - start < _MIN_BAR_W:  # a bar too short to see still gets a visible box
        end = start + _MIN_BAR_W
    xrun = end if run is None else run
    out = []
    for name, a, b, colour, label in (
        ("blocked", start, ready, BLOCKED_COLOUR, "blocked on dependencies"),
        ("wait", ready, xrun, WAIT_COLOUR, "waiting (ready, not yet running)"),
    ):
        if b - a > 0:
            if legend is not None:
                legend.drew(name, colour, label)
            out.append(
                f'<rect class="seg-{name}" x="{_n(a)}" y="{_n(y)}" width="{_n(b - a)}" '
                f'height="{_n(h)}" fill="{colour}"/>'
            )
    return out, xrun, end


def _earlier_svg(span: Span, x: _Scale, top: float, row_h: int, legend: _Legend) -> str:
    """An attempt a rerun replaced, faint, with the mark of its failure kind at its end."""
    y, h = top + row_h * 0.15, row_h * 0.7
    run = x(span.run_start) if span.run_start is not None else None
    rects, xrun, xe = _segments(x(span.start), x(span.ready), run, x(span.end), y, h, None)
    colour = OUTCOME_COLOURS[span.outcome]
    legend.drew("earlier", colour, "an attempt a rerun replaced (faint)", EARLIER_OPACITY)
    if span.run_start is not None and xe > xrun:
        rects.append(
            f'<rect class="seg-run" data-share="{span.outcome}" x="{_n(xrun)}" y="{_n(y)}" '
            f'width="{_n(xe - xrun)}" height="{_n(h)}" fill="{colour}"/>'
        )
    attempts = ",".join(str(a) for a in span.attempts)
    out = [f'<g class="attempt earlier" data-attempt="{attempts}" opacity="{EARLIER_OPACITY}">',
           *rects, "</g>"]  # fmt: skip
    if span.failure:
        legend.drew(f"failure:{span.failure}", _failure_colour(span.failure),
                    f"failure: {span.failure}")  # fmt: skip
        out.append(
            f'<rect class="fail-mark earlier" data-failure="{_attr(span.failure)}" '
            f'x="{_n(xe)}" y="{_n(top)}" width="3" height="{row_h}" '
            f'fill="{_failure_colour(span.failure)}"/>'
        )
    return "".join(out)


def _bar_svg(
    bar: Bar, t0: int, x: _Scale, top: float, row_h: int, labels: bool, legend: _Legend
) -> str:
    y = top + row_h * 0.15
    h = row_h * 0.7
    run = x(bar.run_start) if bar.run_start is not None else None
    rects, xrun, xe = _segments(x(bar.start), x(bar.ready), run, x(bar.end), y, h, legend)
    failure = main_failure(bar)
    fail_cls = f" k-{_class(failure)}" if failure else ""
    rerun_cls = " rerun" if bar.earlier else ""
    attrs = (
        f'class="bar {"group" if bar.count > 1 else "job"} o-{bar.outcome}{fail_cls}{rerun_cls}" '
        f'data-first="{bar.first_index}" data-last="{bar.last_index}" data-count="{bar.count}" '
        f'data-start="{bar.row_start - t0}" data-run-start="'
        f'{"" if bar.run_start is None else bar.run_start - t0}" data-end="{bar.end - t0}" '
        f'data-outcome="{bar.outcome}" data-attempt="{bar.attempt}" data-reruns="{bar.reruns}"'
        + (f' data-failure="{_attr(failure)}"' if failure else "")
    )
    out = [f"<g {attrs}><title>{_text(_bar_title(bar, t0))}</title>"]
    out += [_earlier_svg(span, x, top, row_h, legend) for span in bar.earlier]
    out.append(f'<g class="attempt current" data-attempt="{bar.attempt}">')
    out += rects
    if bar.run_start is not None and xe > xrun:
        out += _run_strips(bar, xrun, xe, y, h, legend)
    out.append("</g>")
    if failure:
        legend.drew(f"failure:{failure}", _failure_colour(failure), f"failure: {failure}")
        out.append(
            f'<rect class="fail-mark" x="{_n(xe)}" y="{_n(top)}" width="3" height="{row_h}" '
            f'fill="{_failure_colour(failure)}"/>'
        )
    if labels:
        label = (
            f"#{bar.first_index}" if bar.count == 1 else f"#{bar.first_index}{DASH}{bar.last_index}"
        )
        ty = _n(top + row_h * 0.5 + 4)
        out.append(f'<text x="{_PLOT_X0 - 6}" y="{ty}" text-anchor="end">{_text(label)}</text>')
        if failure:
            out.append(f'<text x="{_n(xe + 6)}" y="{ty}">{_text(failure)}</text>')
    out.append("</g>")
    return "".join(out)


def _run_strips(bar: Bar, x0: float, x1: float, y: float, h: float, legend: _Legend) -> list[str]:
    """The running part: one colour for a job; for a group, a strip per outcome, each as high
    as its share of the group's jobs, so that 1 failure in 50 does not paint the bar red."""
    strips = []
    for name in _STRIP_ORDER:
        count = bar.outcomes.get(name, 0)
        if not count:
            continue
        height = h * count / bar.count
        legend.drew(f"run-{name}", OUTCOME_COLOURS[name], _RUN_LABELS[name])
        strips.append(
            f'<rect class="seg-run" data-share="{name}" x="{_n(x0)}" y="{_n(y)}" '
            f'width="{_n(x1 - x0)}" height="{_n(height)}" fill="{OUTCOME_COLOURS[name]}"/>'
        )
        y += height
    return strips


def _bar_title(bar: Bar, t0: int) -> str:
    if bar.count == 1:
        head = f"#{bar.first_index} {bar.job_id}"
        if bar.attempt > 1:
            head += f" (rerun, attempt {bar.attempt})"
    else:
        head = f"#{bar.first_index}{DASH}{bar.last_index}: {bar.count} jobs"
        if bar.reruns:
            head += f", {bar.reruns} rerun"
    lines = [head, ", ".join(f"{s} {n}" if bar.count > 1 else s for s, n in bar.statuses.items())]
    if bar.failures:
        lines.append(
            "failed: " + ", ".join(
                f"{k} {n}" if bar.count > 1 else k for k, n in bar.failures.items()
            )
        )  # fmt: skip
    if bar.ready > bar.start:
        lines.append(f"blocked on dependencies {duration(bar.ready - bar.start)}")
    waited_until = bar.run_start if bar.run_start is not None else bar.end
    lines.append(f"waiting {duration(waited_until - bar.ready)}")
    if bar.run_start is not None:
        lines.append(f"running {duration(bar.end - bar.run_start)}")
    lines.append(f"from +{duration(bar.start - t0)} to +{duration(bar.end - t0)}")
    for span in bar.earlier:
        which = "attempt " + ", ".join(str(a) for a in span.attempts)
        how = span.failure or span.outcome
        lines.append(
            f"before: {which}, {how}, from +{duration(span.start - t0)} to "
            f"+{duration(span.end - t0)}"
        )
    return "\n".join(lines)


# -- job tables -------------------------------------------------------------------------------


def _failed_note(report: BatchReport) -> str:
    more = report.failed_not_listed
    listed = "Every failed job, by index." if not more else (
        f"The first {len(report.failed)} failed jobs by index; {more} more are not listed "
        "(the JSON output has them all)."
    )  # fmt: skip
    if report.reruns:
        listed += " A job that failed and was rerun is listed here only if its rerun failed too."
    return listed


_HEAD: Final = (
    "<tr><th>Index</th><th>Attempt</th><th>Job id</th><th>Status</th><th>Run</th><th>Wait</th>"
    "<th>AWS attempts</th><th>Reason</th><th>Last log lines</th>"
)


def _jobs_section(
    ident: str,
    heading: str,
    timings: Sequence[JobTiming],
    note: str,
    empty: str,
    then: Mapping[int, JobTiming] | None = None,
) -> str:
    """A table of jobs; with `then`, a last column says how each index's job ended."""
    if not timings:
        return f'<section id="{ident}"><h2>{_text(heading)}</h2><p>{_text(empty)}</p></section>'
    head = _HEAD + ("<th>Then</th></tr>" if then is not None else "</tr>")
    rows = "".join(_job_row(t, then) for t in timings)
    return (
        f'<section id="{ident}"><h2>{_text(heading)}</h2><p class="meta">{_text(note)}</p>'
        f"<table>{head}{rows}</table></section>"
    )


def _reruns_section(report: BatchReport) -> str:
    """The attempts reruns replaced, each with how its index ended; nothing without reruns."""
    if not report.earlier:
        return ""
    final = {t.job.index: t for t in report.timings}
    again = sum(1 for t in report.timings if t.job.attempt > 1 and t.job.failed)
    more = len(report.earlier) - len(report.earlier_listed)
    note = (
        f"{report.reruns} reruns (pcr retry) of {report.jobs_rerun} jobs; {again} failed "
        "again. Each row is an attempt a rerun replaced, by index; the last column is the "
        "job's current attempt."
        + (f" The first {len(report.earlier_listed)} are listed; {more} more are not (the "
           "JSON output has them all)." if more else "")
    )  # fmt: skip
    return _jobs_section("reruns", f"Rerun jobs ({report.jobs_rerun})", report.earlier_listed,
                         note, "", then=final)  # fmt: skip


def _job_row(timing: JobTiming, then: Mapping[int, JobTiming] | None = None) -> str:
    job = timing.job
    status = job.status + (f" ({job.failure})" if job.failure else "")
    run = duration(timing.run_ms) + (" (running)" if timing.running_now else "")
    attempt = f"{job.attempt} (rerun)" if job.attempt > 1 else "1"
    reason = "" if job.status == "SUCCEEDED" else job.status_reason or ""  # AWS's is no news
    last = ""
    if then is not None:
        now = then.get(job.index)
        last = "<td></td>" if now is None else (
            f"<td>attempt {now.job.attempt}: {_text(now.job.status)}"
            + (f" ({_text(now.job.failure)})" if now.job.failure else "") + "</td>"
        )  # fmt: skip
    return (
        f'<tr data-index="{job.index}" data-attempt="{job.attempt}" data-status="'
        f'{_attr(job.status)}"><td class="num">{job.index}</td><td class="num">{attempt}</td>'
        f"<td><code>{_text(job.job_id)}</code></td><td>{_text(status)}</td>"
        f'<td class="num">{_text(run)}</td><td class="num">{duration(timing.wait_ms)}</td>'
        f'<td class="num">{job.attempts}</td>'
        f'<td class="reason">{_text(_cut(reason, REASON_CHARS))}</td>'
        f"<td>{_log_cell(job.log_tail, failed=job.failed)}</td>{last}</tr>"
    )


def _log_cell(lines: Sequence[str], *, failed: bool) -> str:
    """The last lines of a job's log, botocore's own logging left out, in a box that opens at
    its end; a failed job's error line is marked, and repeated above the box."""
    kept = [line for line in lines if not NOISE.match(_clean(line))]
    dropped = len(lines) - len(kept)
    tail = [_cut(line, LINE_CHARS) for line in kept[-LOG_LINES_SHOWN:]]
    if not tail:
        return "none" + (_noise_note(dropped) if dropped else "")
    marked = error_line(tail) if failed else None
    shown = [
        f'<mark class="error-line">{_text(line)}</mark>' if n == marked else _text(line)
        for n, line in enumerate(tail)
    ]
    above = f'<p class="error-line">{_text(tail[marked])}</p>' if marked is not None else ""
    box = f'<div class="log"><pre>{chr(10).join(shown)}</pre></div>'
    return above + box + (_noise_note(dropped) if dropped else "")


def _noise_note(dropped: int) -> str:
    lines = _count(dropped, "line")
    return f'<p class="noise">{lines} of botocore\'s own INFO logging left out</p>'


def error_line(lines: Sequence[str]) -> int | None:
    """Which of a failed job's last log lines says what went wrong: the last exception line
    (`ValueError: bad input`) or ERROR line; None if none does."""
    for position in range(len(lines) - 1, -1, -1):
        if ERROR_LINE.match(_clean(lines[position])):
            return position
    return None


# -- formatting -------------------------------------------------------------------------------


def duration(ms: float | None) -> str:
    """A duration for people: 850 ms, 12.5 s, 4 min 05 s, 2 h 03 min; a dash when unknown."""
    if ms is None:
        return DASH
    if ms < 1000:
        return f"{round(ms)} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    seconds = round(ms / 1000)
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    minutes = round(ms / 60_000)
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _count(n: int, noun: str, plural: str | None = None) -> str:
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def hours(value: float) -> str:
    """Resource-hours: two decimals from 1 up, four below, 0 for none."""
    if value == 0:
        return "0"
    return f"{value:.2f}" if value >= 1 else f"{value:.4f}"


def _utc(ms: int | None) -> str:
    if ms is None:
        return DASH
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _n(value: float) -> str:
    """An SVG coordinate with one decimal (keeps 10,000-job pages small)."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clean(text: str) -> str:
    """Drop terminal colour codes and replace other control characters."""
    return _CONTROL.sub("\ufffd", _ANSI.sub("", text).replace("\r", ""))


def _text(text: str) -> str:
    return html.escape(_clean(text), quote=True)


def _attr(text: str) -> str:
    return html.escape(_clean(text), quote=True)


def _class(text: str) -> str:
    return _CLASS_UNSAFE.sub("-", text.lower()).strip("-") or "other"


def _failure_colour(kind: str) -> str:
    return FAILURE_COLOURS.get(kind, OTHER_FAILURE_COLOUR)


def _status_colour(status: str) -> str:
    outcome = {"SUCCEEDED": "succeeded", "FAILED": "failed", "EXPIRED": "expired"}.get(status)
    if outcome is None:
        outcome = "running" if status in ("STARTING", "RUNNING") else "waiting"
    return OUTCOME_COLOURS[outcome]


def _swatch(colour: str, opacity: float = 1.0) -> str:
    faint = "" if opacity == 1 else f";opacity:{opacity:g}"
    return f'<span class="swatch" style="background:{colour}{faint}"></span>'
