"""`BatchFollower` over a `MemoryStore` (the manifest) and a real Batch client that never sends
(`NoCalls`; botocore's `Stubber` answers where AWS Batch is read): the chunks other processes
wrote reach the ledger, AWS Batch is read only once another process's session was seen, and
the session records say when the batch is over."""

from __future__ import annotations

from datetime import timedelta
from itertools import count
from typing import Any

from botocore.stub import Stubber

from pcr_sdk import BatchLayout, SubmittedJob
from pcr_sdk._private.batch.follow import BatchFollower
from pcr_sdk._private.batch.ledger import Ledger
from pcr_sdk._private.batch.manifest import BatchRecord, Manifest
from pcr_sdk._private.batch.sessions import ATTACHED, CREATOR, BatchState, Session, SessionBook
from pcr_sdk._private.edge.reads import BatchReads
from pcr_sdk._private.wire.facts import TAG_INDEX
from tests.support.fakes import WRITTEN, FakeClock, ListJournal, MemoryStore, NoCalls

LAYOUT = BatchLayout("b_1")
RECORD = BatchRecord("b_1", "q", "bkt", "d:1")
MINE, OTHER = "aaaaaaaa00000001", "bbbbbbbb00000001"
FILTERS = [{"name": "JOB_NAME", "values": ["b_1"]}]
NoCalls()  # the shared offline clients load their models here, at collection, not in a test


class Process:
    """One process's view of the batch: its manifest, session, ledger and follower."""

    def __init__(self, store: MemoryStore, batch: Any, *, first_id: str, token: str) -> None:
        tokens = (f"{token}{n}" for n in count())
        self.manifest = Manifest(store.store(), RECORD, token_factory=lambda: next(tokens))
        ids = iter([first_id, first_id[:-1] + "2", first_id[:-1] + "3"])
        self.session = Session(self.manifest, heartbeat_seconds=30, id_factory=lambda: next(ids),
                               thread=False)  # fmt: skip
        self.journal = ListJournal()
        self.ledger = Ledger("b_1", self.journal)
        self.clock = FakeClock()
        self.follower = BatchFollower(
            self.ledger, manifest=self.manifest, store=store.store(), reads=BatchReads(batch),
            job_queue="q", book=SessionBook(self.clock, stale_after_seconds=90),
            session=self.session,
        )  # fmt: skip


def world() -> tuple[MemoryStore, NoCalls, Process, Process]:
    """A store, clients that never send, this process (the follower) and another one."""
    store = MemoryStore(LAYOUT)
    aws = NoCalls()
    mine = Process(store, aws.clients.batch, first_id=MINE, token="mine")
    other = Process(store, aws.clients.batch, first_id=OTHER, token="other")
    return store, aws, mine, other


def detail(job_id: str, index: int) -> dict[str, Any]:
    return {"jobId": job_id, "jobName": "b_1", "jobQueue": "q", "status": "RUNNING",
            "startedAt": 1, "jobDefinition": "d", "tags": {TAG_INDEX: str(index)}}  # fmt: skip


def test_a_batch_only_this_process_touched_is_followed_from_s3_alone() -> None:
    _, aws, mine, _ = world()
    mine.session.open(CREATOR)
    mine.manifest.add(SubmittedJob("j0", 0))
    mine.manifest.flush()  # its own chunk: skipped by its reader
    checks: list[int] = []
    state = mine.follower.refresh(lambda: checks.append(1))
    assert state == BatchState((), (), ())  # its own session is left out
    assert state.closed
    assert mine.ledger.known_ids() == frozenset()
    assert not mine.follower.book.seen_others
    assert aws.sent == []  # AWS Batch was not read: no other process ever submitted
    assert checks == [1]  # before the one listing; no chunk was read
    assert mine.journal.of("add") == []


def test_the_chunks_another_process_wrote_reach_the_ledger_without_being_recorded_again() -> None:
    _, aws, mine, other = world()
    other.manifest.add(SubmittedJob("j0", 0))
    other.manifest.add(SubmittedJob("j1", 1, ("j0",)))
    other.manifest.flush()
    checks: list[int] = []
    mine.follower.refresh(lambda: checks.append(1))
    assert [job.job_id for job in mine.ledger.jobs] == ["j0", "j1"]
    assert mine.ledger.jobs[1].depends_on == ("j0",)
    assert checks == [1, 1]  # the listing, then the one chunk
    assert mine.journal.of("add") == []  # in the manifest already
    other.manifest.add(SubmittedJob("j2", 2))
    other.manifest.flush()
    mine.follower.refresh()
    assert [job.job_id for job in mine.ledger.jobs] == ["j0", "j1", "j2"]
    assert aws.sent == []


def test_once_another_session_is_seen_the_new_jobs_only_aws_batch_lists_are_taken_too() -> None:
    _, aws, mine, other = world()
    other.manifest.add(SubmittedJob("j0", 0))
    other.manifest.flush()
    mine.follower.refresh()  # j0 known from the manifest; no session of another process yet
    other.session.open(ATTACHED)
    with Stubber(aws.clients.batch) as stubbed:
        stubbed.add_response(
            "list_jobs",
            {
                "jobSummaryList": [
                    {"jobId": "j1", "jobName": "b_1"},
                    {"jobId": "j0", "jobName": "b_1"},
                ]
            },
            {"jobQueue": "q", "filters": FILTERS},
        )  # fmt: skip  (newest first)
        stubbed.add_response("describe_jobs", {"jobs": [detail("j1", 1)]}, {"jobs": ["j1"]})
        state = mine.follower.refresh()
        stubbed.assert_no_pending_responses()
    assert state.live == (OTHER,)
    assert not state.closed
    assert mine.follower.book.seen_others
    assert [job.job_id for job in mine.ledger.jobs] == ["j0", "j1"]
    assert mine.journal.of("add") == [SubmittedJob("j1", 1)]  # its process may have died
    assert aws.sent == []


def test_jobs_named_by_a_chunk_of_the_same_refresh_are_not_described_again() -> None:
    _, aws, mine, other = world()
    other.session.open(ATTACHED)
    other.manifest.add(SubmittedJob("j0", 0))
    other.manifest.flush()
    with Stubber(aws.clients.batch) as stubbed:
        stubbed.add_response(
            "list_jobs",
            {"jobSummaryList": [{"jobId": "j1", "jobName": "b_1"},
                                {"jobId": "j0", "jobName": "b_1"}]},
            {"jobQueue": "q", "filters": FILTERS},
        )  # fmt: skip
        stubbed.add_response("describe_jobs", {"jobs": [detail("j1", 1)]}, {"jobs": ["j1"]})
        mine.follower.refresh()  # today: DescribeJobs for j1 and j0, which the stub refuses
        stubbed.assert_no_pending_responses()
    assert [job.job_id for job in mine.ledger.jobs] == ["j0", "j1"]


def test_the_batch_is_over_for_the_follower_once_the_other_session_closes() -> None:
    _, aws, mine, other = world()
    mine.session.open(CREATOR)
    other.session.open(ATTACHED)
    with Stubber(aws.clients.batch) as stubbed:
        stubbed.add_response("list_jobs", {"jobSummaryList": []},
                             {"jobQueue": "q", "filters": FILTERS})  # fmt: skip
        assert mine.follower.refresh().live == (OTHER,)
        other.session.close()
        stubbed.add_response("list_jobs", {"jobSummaryList": []},
                             {"jobQueue": "q", "filters": FILTERS})  # fmt: skip
        state = mine.follower.refresh()
        stubbed.assert_no_pending_responses()
    assert state == BatchState(live=(), stale=(), ended=(OTHER,))
    assert state.closed
    assert mine.follower.state() == state  # the last listing, read again without a request


def test_a_session_whose_heartbeat_stopped_ends_the_batch_by_s3s_clock() -> None:
    store, _, mine, other = world()
    other.session.open(ATTACHED)
    store.now = WRITTEN + timedelta(seconds=90)
    assert mine.follower.look().live == (OTHER,)
    store.now = WRITTEN + timedelta(seconds=91)  # no heartbeat for over 90 s, by S3's clock
    assert mine.follower.look() == BatchState(live=(), stale=(OTHER,), ended=())
    other.session.beat()
    assert mine.follower.look().live == (OTHER,)


def test_look_lists_the_manifest_but_reads_no_chunk_and_state_needs_a_listing_first() -> None:
    _, aws, mine, other = world()
    assert mine.follower.state() == BatchState((), (), ())  # nothing listed yet
    other.session.open(ATTACHED)
    other.manifest.add(SubmittedJob("j0", 0))
    other.manifest.flush()
    assert mine.follower.look().live == (OTHER,)
    assert mine.ledger.known_ids() == frozenset()  # no chunk read
    assert mine.follower.state() == BatchState((), (), ())  # look does not set the listing
    assert aws.sent == []
