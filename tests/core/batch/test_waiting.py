"""`BatchWatch`: each finished job is settled once (its failure reported, its callback run),
and cancel stops each unfinished job, an array through its parent, labelled as this process's.
A ledger on a `ListJournal`; the submitter and the poller are recorders."""

from __future__ import annotations

from typing import Any, cast

from pcr_sdk import BatchLayout, FailureKind, JobResult, JobStatus, PollProgress, SubmittedJob
from pcr_sdk._private.batch.ledger import Ledger
from pcr_sdk._private.batch.manifest import ArrayRecord
from pcr_sdk._private.batch.results import BatchResults
from pcr_sdk._private.batch.waiting import BatchWatch
from pcr_sdk._private.model.results import JobState
from pcr_sdk._private.seams import REAL
from pcr_sdk._private.services.poller import Poller
from pcr_sdk._private.services.submitter import Submitter
from tests.support.fakes import ListJournal


class Reports:
    """A progress reporter that keeps what it was told."""

    def __init__(self) -> None:
        self.failed: list[JobResult] = []

    def on_progress(self, progress: PollProgress) -> None:
        del progress

    def on_job_failed(self, result: JobResult) -> None:
        self.failed.append(result)


class Terminations:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def terminate(self, job_id: str, reason: str) -> None:
        self.sent.append((job_id, reason))


def watch(ledger: Ledger, terminations: Terminations | None = None) -> BatchWatch:
    never: Any = object()  # these tests make no poll
    results = BatchResults(ledger, cast("Poller", never), BatchLayout("b_1"))
    submitter = cast("Submitter", terminations or never)
    return BatchWatch(
        ledger, cast("Poller", never), results, submitter,
        follower=never, seams=REAL, look_again_seconds=1.0, stop_submitting=lambda: None,
    )  # fmt: skip


def test_a_finished_job_is_reported_and_called_back_once_whoever_sees_it() -> None:
    ledger = Ledger("b_1", ListJournal())
    called: list[str] = []
    ledger.record(SubmittedJob("j0", 0), callback=lambda: called.append("j0"))
    reports = Reports()
    failed = JobState("j0", JobStatus.FAILED, "Essential container in task exited", exit_code=2)
    watcher = watch(ledger)
    watcher.settle(failed, reports)
    watcher.settle(failed, reports)  # a second wait, or as_completed, sees it too
    assert called == ["j0"]
    assert [(r.job_id, r.failure) for r in reports.failed] == [("j0", FailureKind.NON_ZERO_EXIT)]


def test_cancel_stops_each_unfinished_job_once_and_labels_what_it_stopped() -> None:
    ledger = Ledger("b_1", ListJournal())
    ledger.record(SubmittedJob("done", 0))
    ledger.record(SubmittedJob("running", 1))
    ledger.record_array(ArrayRecord("arr", 2, 2))
    ledger.learn([JobState("done", JobStatus.SUCCEEDED)])
    ledger.close()
    terminations = Terminations()
    results = watch(ledger, terminations).cancel("stop", Reports(), wait=False, timeout=None)
    assert terminations.sent == [("running", "stop"), ("arr", "stop")]
    assert sorted(results) == ["arr:0", "arr:1", "running"]
    stopped = JobState("arr:1", JobStatus.FAILED, "stop", terminated=True)
    assert ledger.failure(ledger.job("arr:1"), stopped) is FailureKind.TERMINATED
