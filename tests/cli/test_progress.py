"""Progress without spam: the facade's `PrintProgress` and the CLI's reporters print when the
counts change, plus a heartbeat at most once a minute; the CLI draws a live bar on a
terminal and plain lines anywhere else."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from pcr_sdk import JobResult, JobStatus
from pcr_sdk.cli._progress import LiveProgress, PlainProgress, batch_progress, stderr_console
from tests.support.fakes import FakeClock
from tests.support.progress import POLLS, poll

pytestmark = pytest.mark.subprocess


def test_plain_progress_prints_one_line_per_change_and_a_heartbeat() -> None:
    out = io.StringIO()
    clock = FakeClock(0.0)
    progress = PlainProgress(Console(file=out, width=100_000), clock=clock)
    for cycle, (finished, running) in enumerate(POLLS):
        clock.now = cycle * 0.2
        progress.on_progress(poll(cycle, finished, running))
    printed = out.getvalue().splitlines()
    assert len(printed) == 6
    assert printed[0] == "finished 0/6: 6 running"
    assert printed[-1] == "finished 6/6: 6 succeeded"
    clock.now += 61
    progress.on_progress(poll(200, 6, 0))
    assert out.getvalue().splitlines()[-1] == "finished 6/6: 6 succeeded"
    assert len(out.getvalue().splitlines()) == 7


def test_the_cli_draws_a_live_bar_on_a_terminal_and_lines_elsewhere() -> None:
    terminal = Console(file=io.StringIO(), force_terminal=True, width=100)
    plain = Console(file=io.StringIO(), force_terminal=False)
    assert isinstance(batch_progress(terminal, clock=FakeClock(0.0)), LiveProgress)
    assert isinstance(batch_progress(plain, clock=FakeClock(0.0)), PlainProgress)
    assert not stderr_console().is_terminal  # pytest captures stderr
    assert stderr_console().width == 100_000  # nothing hard-wrapped off a terminal


def test_the_live_bar_follows_submission_and_polls() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    submitted = [0]
    with LiveProgress(console) as live:
        live.begin_submit(6, lambda: submitted[0])
        submitted[0] = 6
        live.end_submit(6, 0.4)
        live.begin_wait(6)
        live.on_progress(poll(1, 4, 2))
        failed = JobResult(
            job_id="job-5", index=5, status=JobStatus.FAILED, output_key="k",
            status_reason="Essential container in task exited", exit_code=3,
        )  # fmt: skip
        live.on_job_failed(failed)
        live.on_progress(poll(2, 6, 0))
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())  # colours, cursor moves
    assert "submitted" in text
    assert "6/6" in text
    assert "FAILED job 5 (job-5): Essential container in task exited, exit code 3" in text
