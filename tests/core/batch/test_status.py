"""`BatchStatus`: a read-only view of a batch; its counts, and a cancel that names each array
once (botocore's `Stubber` answers TerminateJob; nothing is sent)."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from pcr_sdk import (
    BatchStatus,
    InvalidBatchNameError,
    JobResult,
    JobStatus,
    PcrInputError,
    SubmittedJob,
)
from pcr_sdk._private.batch.ledger import Ledger
from pcr_sdk._private.batch.manifest import ArrayRecord
from pcr_sdk._private.batch.status import _NoJournal
from tests.support.fakes import NoCalls

BATCH_ID = "b_c6bc6ee9-0000-4000-8000-000000000000"


def result(job: SubmittedJob, status: JobStatus) -> JobResult:
    return JobResult(job_id=job.job_id, index=job.index, status=status, output_key="k")


def view() -> BatchStatus:
    jobs = (SubmittedJob("done", 0), SubmittedJob("running", 1),
            SubmittedJob("arr:0", 2, (), "arr"), SubmittedJob("arr:1", 3, (), "arr"))  # fmt: skip
    statuses = (JobStatus.SUCCEEDED, JobStatus.RUNNING, JobStatus.RUNNABLE, JobStatus.PENDING)
    results = tuple(result(job, status) for job, status in zip(jobs, statuses, strict=True))
    return BatchStatus(BATCH_ID, "q", jobs, results, None, False)


def test_counts_and_what_is_unfinished() -> None:
    status = view()
    assert status.counts == {JobStatus.SUCCEEDED: 1, JobStatus.RUNNING: 1,
                             JobStatus.RUNNABLE: 1, JobStatus.PENDING: 1}  # fmt: skip
    assert not status.finished
    assert [r.job_id for r in status.unfinished()] == ["running", "arr:0", "arr:1"]


def test_cancel_terminates_each_unfinished_job_and_each_array_once() -> None:
    clients = NoCalls().clients
    with Stubber(clients.batch) as stubbed:
        for target in ("running", "arr"):
            stubbed.add_response("terminate_job", {}, {"jobId": target, "reason": "stop"})
        assert view().cancel("stop", clients=clients) == ["running", "arr"]
        stubbed.assert_no_pending_responses()


def test_bad_input_is_refused_before_any_request() -> None:
    no_calls = NoCalls()
    with pytest.raises(PcrInputError, match="needs a reason"):
        view().cancel("", clients=no_calls.clients)
    with pytest.raises(InvalidBatchNameError):
        BatchStatus.fetch("not-an-id", job_queue="q", clients=no_calls.clients)
    with pytest.raises(PcrInputError, match="job_queue"):
        BatchStatus.fetch(BATCH_ID, job_queue="", clients=no_calls.clients)
    assert no_calls.sent == []


def test_a_views_ledger_records_and_reserves_in_memory_and_writes_nowhere() -> None:
    """The view's ledger journals to `_NoJournal`: every record it takes stays in memory."""
    ledger = Ledger(BATCH_ID, _NoJournal())
    assert ledger.reserve(2) == 0
    ledger.record(SubmittedJob("a", 0))
    ledger.record_array(ArrayRecord("arr", 1, 2, ()))
    assert ledger.next_attempt() == 2
    ledger.flush()
    assert [job.job_id for job in ledger.jobs] == ["a", "arr:0", "arr:1"]
    assert ledger.next_attempt() == 3  # the reserved attempt is remembered
