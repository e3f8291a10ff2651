"""Array progress counts children as they finish, from the parent's statusSummary (before:
`submit_jobs()` makes an array by default, and its wait printed `Jobs finished: 0/200` until the
parent finished; on AWS that is hours of "0/10000")."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import pytest

from pcr_sdk import JobStatus, PollProgress, PrintProgress
from pcr_sdk._private.model.settings import PollSettings
from pcr_sdk._private.services.pacing import Pacing
from pcr_sdk.advanced import JobState, PollRun, Seams
from tests.support.fakes import FakeClock

PARENT = "arr"


class ArrayReader:
    """An array of `size` children; each DescribeJobs of the parent moves the summary to the
    next of `summaries` (the last one: the parent finished)."""

    def __init__(self, summaries: Sequence[Mapping[str, int]], failed: Sequence[str] = ()) -> None:
        self.summaries = list(summaries)
        self.failing = list(failed)
        self.failed = 0
        self.calls: list[str] = []

    def describe(self, job_ids: Sequence[str]) -> dict[str, JobState]:
        if job_ids:  # like BatchReads: no ids, no call
            self.calls.append("DescribeJobs")
        found: dict[str, JobState] = {}
        for job_id in job_ids:
            if job_id == PARENT:
                summary = self.summaries.pop(0) if len(self.summaries) > 1 else self.summaries[0]
                self.failed = summary.get("FAILED", 0)
                done = sum(summary.get(s, 0) for s in ("SUCCEEDED", "FAILED"))
                status = JobStatus.SUCCEEDED if done == sum(summary.values()) else JobStatus.PENDING
                found[job_id] = JobState(job_id, status, children=dict(summary))
        return found

    def failed_children(self, array_id: str) -> dict[str, JobState]:
        """The first of `failed` that the summary counts FAILED."""
        self.calls.append("ListJobs")
        ids = self.failing[: self.failed]
        return {i: JobState(i, JobStatus.FAILED, summary_only=True) for i in ids}

    def new_children(
        self, array_id: str, status: str, seen: set[str], expected: int
    ) -> dict[str, JobState]:
        self.calls.append("ListJobs")
        return {}


def run(reader: ArrayReader, size: int, progress: list[PollProgress]) -> None:
    clock = FakeClock()
    pacing = Pacing(PollSettings(interval_seconds=10), Seams(clock=clock, sleep=clock.sleep))
    children = [f"{PARENT}:{i}" for i in range(size)]
    for _ in PollRun(reader, pacing, children, arrays=[PARENT], known=None,
                     on_progress=progress.append, timeout=None, identify=False,
                     logged_blocked=set()):  # fmt: skip
        pass


def test_children_count_as_they_finish_from_the_status_summary() -> None:
    reader = ArrayReader([
        {"RUNNING": 200},
        {"RUNNING": 150, "SUCCEEDED": 50},
        {"RUNNING": 20, "SUCCEEDED": 180},
        {"SUCCEEDED": 200},
    ])  # fmt: skip
    progress: list[PollProgress] = []
    run(reader, 200, progress)
    assert [p.finished for p in progress] == [0, 50, 180, 200]
    assert [p.total for p in progress] == [200] * 4
    assert progress[1].counts == {JobStatus.RUNNING: 150, JobStatus.SUCCEEDED: 50}
    assert reader.calls == ["DescribeJobs"] * 4  # the parent only: no call for the counts


def test_failed_children_count_too_and_the_counts_never_exceed_the_children() -> None:
    reader = ArrayReader([
        {"RUNNABLE": 3, "RUNNING": 5, "SUCCEEDED": 2},
        {"SUCCEEDED": 7, "FAILED": 3},
    ], failed=[f"{PARENT}:{i}" for i in (7, 8, 9)])  # fmt: skip
    progress: list[PollProgress] = []
    run(reader, 10, progress)
    assert progress[0].finished == 2
    assert progress[0].counts == {
        JobStatus.RUNNABLE: 3, JobStatus.RUNNING: 5, JobStatus.SUCCEEDED: 2,
    }  # fmt: skip
    assert progress[-1].finished == 10
    assert progress[-1].failed == 3


def test_children_a_rerun_replaced_are_not_counted_for_the_array() -> None:
    """The run follows 9 of the array's 10 children (child 3 was rerun as its own job): the
    summary's extra child, FAILED, is left out."""
    reader = ArrayReader(
        [{"RUNNING": 4, "SUCCEEDED": 5, "FAILED": 1}, {"SUCCEEDED": 9, "FAILED": 1}],
        failed=[f"{PARENT}:3"],
    )
    clock = FakeClock()
    pacing = Pacing(PollSettings(interval_seconds=10), Seams(clock=clock, sleep=clock.sleep))
    children = [f"{PARENT}:{i}" for i in range(10) if i != 3]
    progress: list[PollProgress] = []
    for _ in PollRun(reader, pacing, children, arrays=[PARENT], known=None,
                     on_progress=progress.append, timeout=None, identify=False,
                     logged_blocked=set()):  # fmt: skip
        pass
    assert progress[0].counts == {JobStatus.RUNNING: 4, JobStatus.SUCCEEDED: 5}
    assert sum(progress[0].counts.values()) == 9


def test_print_progress_shows_the_array_moving() -> None:
    reader = ArrayReader([{"RUNNING": 200}, {"RUNNING": 100, "SUCCEEDED": 100}, {"SUCCEEDED": 200}])
    progress: list[PollProgress] = []
    run(reader, 200, progress)
    out = io.StringIO()
    printer = PrintProgress(out, clock=FakeClock())
    for each in progress:
        printer.on_progress(each)
    assert out.getvalue().splitlines() == [
        "Jobs finished: 0/200", "Jobs finished: 100/200", "Jobs finished: 200/200",
    ]  # fmt: skip


@pytest.mark.integration
def test_a_wait_on_an_array_prints_its_children_as_they_finish() -> None:
    """The whole way: `submit_jobs()` (an array), then the seed's wait and its printed lines."""
    from pcr_sdk.testing import MotoWorld
    from tests.support.submitters import new_submitter

    with MotoWorld(polls_to_finish=2) as world:
        for index in range(6):
            world.script.polls(index=index, n=2 + 2 * index)  # children finish one after another
        out = io.StringIO()
        sub = new_submitter(world, progress=PrintProgress(out, heartbeat_seconds=1e9))
        sub.submit_jobs([{"i": i} for i in range(6)])
        sub.wait_until_jobs_finished()
        lines = out.getvalue().splitlines()
        assert lines[0] == "Jobs finished: 0/6"
        assert lines[-1] == "Jobs finished: 6/6"
        assert len(lines) > 2, lines  # it moved in between
