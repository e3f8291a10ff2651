"""`PrintProgress`: a line when the counts change, and a heartbeat at most once a minute."""

from __future__ import annotations

import io

from pcr_sdk import JobStatus, PollProgress, PrintProgress


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _poll(cycle: int, finished: int, running: int, total: int = 6) -> PollProgress:
    counts = {JobStatus.SUCCEEDED: finished, JobStatus.RUNNING: running}
    return PollProgress(cycle=cycle, total=total, counts={k: v for k, v in counts.items() if v})


# a 6-job batch polled every 0.2 s: 45 polls, the finished count changing 6 times
POLLS = [(0, 6)] * 13 + [(1, 5)] * 8 + [(2, 4)] * 6 + [(4, 2)] * 9 + [(5, 1)] * 8 + [(6, 0)]


def test_print_progress_prints_changes_and_a_heartbeat_not_every_poll() -> None:
    out = io.StringIO()
    clock = Clock()
    progress = PrintProgress(out, clock=clock)
    for cycle, (finished, running) in enumerate(POLLS):
        clock.now = cycle * 0.2
        progress.on_progress(_poll(cycle, finished, running))
    printed = out.getvalue().splitlines()
    assert printed == [f"Jobs finished: {k}/6" for k in (0, 1, 2, 4, 5, 6)]  # not 45 lines

    clock.now += 59
    progress.on_progress(_poll(99, 6, 0))
    assert len(out.getvalue().splitlines()) == 6  # quiet for under a minute
    clock.now += 2
    progress.on_progress(_poll(100, 6, 0))
    assert out.getvalue().splitlines()[-1] == "Jobs finished: 6/6"  # the heartbeat
