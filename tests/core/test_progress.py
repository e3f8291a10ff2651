"""`PrintProgress`: a line when the counts change, and a heartbeat at most once a minute."""

from __future__ import annotations

import io

from pcr_sdk import PrintProgress
from tests.support.fakes import FakeClock
from tests.support.progress import POLLS, poll


def test_print_progress_prints_changes_and_a_heartbeat_not_every_poll() -> None:
    out = io.StringIO()
    clock = FakeClock(0.0)
    progress = PrintProgress(out, clock=clock)
    for cycle, (finished, running) in enumerate(POLLS):
        clock.now = cycle * 0.2
        progress.on_progress(poll(cycle, finished, running))
    printed = out.getvalue().splitlines()
    assert printed == [f"Jobs finished: {k}/6" for k in (0, 1, 2, 4, 5, 6)]  # not 45 lines

    clock.now += 59
    progress.on_progress(poll(99, 6, 0))
    assert len(out.getvalue().splitlines()) == 6  # quiet for under a minute
    clock.now += 2
    progress.on_progress(poll(100, 6, 0))
    assert out.getvalue().splitlines()[-1] == "Jobs finished: 6/6"  # the heartbeat
