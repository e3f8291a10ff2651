"""`Ledger`: one batch's job table (indexes, attempts, settling, labels, reconciling on attach).

Unit tests on a `ListJournal`: the ledger makes no call of its own, so what it would make
durable is the journal's list.
"""

from __future__ import annotations

import logging
import threading

import pytest

from pcr_sdk import (
    BatchClosedError,
    FailureKind,
    JobNotFoundError,
    JobStatus,
    SubmittedJob,
    UnknownDependencyError,
)
from pcr_sdk._private.batch.ledger import RESERVE_BLOCK, Ledger
from pcr_sdk._private.batch.manifest import ArrayRecord, LoadedManifest
from pcr_sdk._private.model.results import JobState
from tests.support.fakes import ListJournal

EXITED = "Essential container in task exited"


def ledger() -> tuple[Ledger, ListJournal]:
    journal = ListJournal()
    return Ledger("b_1", journal), journal


def test_indexes_are_consecutive_and_written_ahead_in_blocks() -> None:
    table, journal = ledger()
    assert table.reserve(3) == 0
    assert journal.of("reserve") == [RESERVE_BLOCK]  # before the first index is handed out
    assert table.reserve(RESERVE_BLOCK - 3) == 3
    assert journal.of("reserve") == [RESERVE_BLOCK]  # still inside the block: no write
    assert table.reserve(1) == RESERVE_BLOCK
    assert table.reserve(250) == RESERVE_BLOCK + 1
    assert journal.of("reserve") == [RESERVE_BLOCK, 2 * RESERVE_BLOCK, RESERVE_BLOCK + 1 + 250]


def test_a_recorded_job_is_in_the_table_and_the_journal() -> None:
    table, journal = ledger()
    job = SubmittedJob("j0", table.reserve(1))
    table.record(job)
    children = table.record_array(ArrayRecord("arr", table.reserve(2), 2, ("j0",)))
    assert journal.of("add") == [job]
    assert journal.of("add_array") == [ArrayRecord("arr", 1, 2, ("j0",))]
    assert table.jobs == (job, *children)
    assert [c.job_id for c in children] == ["arr:0", "arr:1"]
    assert table.members("arr") == [1, 2]
    assert table.members("j0") == [0]
    assert table.arrays == frozenset({"arr"})
    assert len(table) == 3
    table.flush()
    assert journal.entries[-1] == ("flush", None)


def test_a_dependency_must_be_a_job_or_an_array_of_the_batch() -> None:
    table, _ = ledger()
    table.record(SubmittedJob("j0", table.reserve(1)))
    table.record_array(ArrayRecord("arr", table.reserve(2), 2))
    table.check_open(["j0", "arr", "arr:1"])
    with pytest.raises(UnknownDependencyError) as raised:
        table.check_open(["j0", "elsewhere"])
    assert raised.value.job_id == "elsewhere"
    with pytest.raises(JobNotFoundError):
        table.job("elsewhere")


def test_a_closed_ledger_refuses_new_work_until_reopened() -> None:
    table, _ = ledger()
    table.close()
    assert table.closing
    for refused in (table.check_open, lambda: table.reserve(1), table.next_attempt):
        with pytest.raises(BatchClosedError, match="b_1 is closed"):
            refused()
    with pytest.raises(BatchClosedError), table.sending():
        pass
    table.reopen()
    assert table.reserve(1) == 0


def test_close_waits_for_the_submissions_under_way_and_refuses_later_ones() -> None:
    table, journal = ledger()
    entered, release, closed = threading.Event(), threading.Event(), threading.Event()

    def submit() -> None:
        with table.sending():
            entered.set()
            release.wait(10)
            table.record(SubmittedJob("late", 0))

    sender = threading.Thread(target=submit)
    sender.start()
    assert entered.wait(10)

    def close() -> None:
        table.close()
        closed.set()

    closer = threading.Thread(target=close)
    closer.start()
    assert not closed.wait(0.05), "close() returned while a SubmitJob was under way"
    assert table.in_flight == 1
    release.set()
    assert closed.wait(10)
    sender.join(10)
    closer.join(10)
    assert journal.of("add") == [SubmittedJob("late", 0)]  # recorded before close() returned
    assert table.in_flight == 0


def test_a_finished_job_settles_once_and_hands_out_its_callback_once() -> None:
    table, _ = ledger()
    fired: list[str] = []
    table.record(SubmittedJob("j0", 0), callback=lambda: fired.append("j0"))
    running = JobState("j0", JobStatus.RUNNING)
    assert table.settle(running) == (False, None)
    assert [job.job_id for job in table.unfinished()] == ["j0"]
    done = JobState("j0", JobStatus.SUCCEEDED)
    first, callback = table.settle(done)
    assert first
    assert callback is not None
    callback()
    assert table.settle(done) == (False, None)
    assert fired == ["j0"]
    assert table.unfinished() == []
    assert table.settle(JobState("stranger", JobStatus.SUCCEEDED)) == (False, None)


def test_a_finished_state_is_never_replaced_by_an_older_one() -> None:
    table, _ = ledger()
    table.record(SubmittedJob("j0", 0))
    table.learn([JobState("j0", JobStatus.FAILED, summary_only=True)])
    table.learn([JobState("j0", JobStatus.RUNNING)])  # a late answer
    assert table.state("j0") == JobState("j0", JobStatus.FAILED, summary_only=True)
    detailed = JobState("j0", JobStatus.FAILED, EXITED, exit_code=3, attempts=1)
    table.learn([detailed])  # the same outcome with more detail replaces a summary
    assert table.state("j0") == detailed
    assert table.unsettled() == [detailed]  # learned outside a wait: not settled yet
    table.settle(detailed)
    assert table.unsettled() == []


def test_only_what_this_process_stopped_counts_as_cancelled_or_terminated() -> None:
    table, _ = ledger()
    mine, other = SubmittedJob("mine", 0), SubmittedJob("other", 1)
    child = table.record_array(ArrayRecord("arr", 2, 1))[0]
    table.record(mine)
    table.record(other)
    table.stopping(["mine", "arr"], "stopped by pcr")

    def stopped(
        job_id: str, reason: str, *, cancelled: bool = False, terminated: bool = False
    ) -> JobState:
        return JobState(
            job_id, JobStatus.FAILED, reason, cancelled=cancelled, terminated=terminated
        )

    assert table.failure(mine, stopped("mine", "stopped by pcr", cancelled=True)) is (
        FailureKind.CANCELLED
    )
    assert table.failure(child, stopped(child.job_id, "stopped by pcr", terminated=True)) is (
        FailureKind.TERMINATED
    )  # through its array parent
    assert table.failure(other, stopped("other", "stopped by pcr")) is not FailureKind.TERMINATED
    assert table.failure(mine, stopped("mine", "someone else's reason")) is not (
        FailureKind.TERMINATED
    )
    assert table.failure(mine, None) is None


def test_a_rerun_attempt_is_reserved_in_the_journal_above_every_used_one() -> None:
    table, journal = ledger()
    table.record(SubmittedJob("j0", 0, attempt=3))
    assert table.next_attempt() == 4
    assert table.next_attempt() == 5  # reserved, though unused: never handed out twice
    assert journal.of("reserve_attempt") == [4, 5]
    table.record(SubmittedJob("j0-rerun", 0, attempt=4))
    assert table.current(0) == SubmittedJob("j0-rerun", 0, attempt=4)
    assert table.jobs == (SubmittedJob("j0-rerun", 0, attempt=4),)


def test_jobs_only_aws_batch_knows_go_to_the_journal_on_reconcile() -> None:
    table, journal = ledger()
    loaded = LoadedManifest(jobs=[SubmittedJob("known", 0)], reserved_to=RESERVE_BLOCK)
    lost = SubmittedJob("lost", 1)
    found = [
        (SubmittedJob("known", 0), JobState("known", JobStatus.SUCCEEDED)),
        (lost, JobState("lost", JobStatus.RUNNING)),
        (SubmittedJob("arr:1", 3, (), "arr"), None),
        (SubmittedJob("arr:0", 2, (), "arr"), None),
    ]
    assert table.reconcile(loaded, found) == 3
    assert journal.of("add") == [lost]  # the manifest's own job is not written again
    assert journal.of("add_array") == [ArrayRecord("arr", 2, 2)]
    assert journal.entries[-1] == ("flush", None)
    assert table.state("lost") == JobState("lost", JobStatus.RUNNING)
    assert table.reserve(1) == RESERVE_BLOCK  # after what the manifest reserved


def test_the_ledger_keeps_the_highest_attempt_current_and_ignores_a_duplicate(
    caplog: pytest.LogCaptureFixture,
) -> None:
    table, _ = ledger()
    loaded = LoadedManifest(jobs=[SubmittedJob("first", 0), SubmittedJob("other", 1)])
    found = [
        (SubmittedJob("first", 0), None),
        (SubmittedJob("rerun", 0, attempt=2), None),
        (SubmittedJob("twin", 1), None),  # the same attempt as the manifest's job 1
        (SubmittedJob("r:0", 2, (), "r", 3), None),
        (SubmittedJob("r:1", 5, (), "r", 3), None),
    ]
    with caplog.at_level(logging.WARNING):
        recovered = table.reconcile(loaded, found)
    assert recovered == 3
    assert [job.job_id for job in table.jobs] == ["rerun", "other", "r:0", "r:1"]
    assert len(table) == 4
    assert table.job("first").index == 0  # an older attempt is still known by its id
    assert table.members("r") == [2, 5]
    assert table.array("r") == ArrayRecord("r", 2, 2, (), 3, (2, 5))
    assert table.next_attempt() == 4
    assert "also has twin" in caplog.text
