"""Sessions (`Session`, `SessionBook`, `Presence`) over a `MemoryStore`: the open record, its
heartbeat and the closed record a process writes, a close whose answer was lost, and how
another process reads live, stale (by S3's clock or its own) and ended sessions."""

from __future__ import annotations

import gc
import json
import threading
import weakref
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from pcr_sdk import AwsError, BatchLayout, RerunLeaseHeldError
from pcr_sdk._private.batch.lease import LeaseKeeper
from pcr_sdk._private.batch.manifest import BatchRecord, Manifest
from pcr_sdk._private.batch.sessions import (
    CREATOR,
    RERUN,
    BatchState,
    Presence,
    Session,
    SessionBook,
    _beat,
)
from pcr_sdk.advanced import Listing, StoredObject
from tests.support.fakes import WRITTEN, FakeClock, MemoryStore

LAYOUT = BatchLayout("b_1")
RECORD = BatchRecord("b_1", "q", "bkt", "d:1")
A, B, C = "aaaaaaaa00000001", "aaaaaaaa00000002", "aaaaaaaa00000003"


def ids(first: int = 1) -> Iterator[str]:
    return iter(f"aaaaaaaa{n:08d}" for n in range(first, first + 100))


def session(store: MemoryStore, first: int = 1, **kw: object) -> Session:
    fresh = ids(first)
    manifest = Manifest(store.store(), RECORD)
    return Session(manifest, heartbeat_seconds=30, id_factory=lambda: next(fresh), thread=False,
                   **kw)  # type: ignore[arg-type]  # fmt: skip


def is_open(session: Session) -> bool:
    """Read afresh: mypy would keep an assert's narrowing across the calls that change it."""
    return session.is_open


def held(lease: LeaseKeeper) -> bool:
    """Read afresh, as `is_open`."""
    return lease.held


def record(store: MemoryStore, session_id: str, *, closed: bool = False) -> dict[str, object]:
    body: dict[str, object] = json.loads(
        store.objects[LAYOUT.session_key(session_id, closed=closed)]
    )
    return body


def at(seconds: float) -> datetime:
    return WRITTEN + timedelta(seconds=seconds)


def obj(name: str, written: float, etag: str = '"e"') -> StoredObject:
    return StoredObject(f"{LAYOUT.manifest_prefix}{name}", 100, at(written), etag)


class LostAnswers(MemoryStore):
    """S3 took the write, but its answer never came back (`lose` on)."""

    lose = False

    def put_json(self, key: str, value: object) -> None:
        super().put_json(key, value)
        if self.lose:
            raise AwsError("PutObject failed (connection reset)", operation="PutObject")


def test_opening_writes_the_open_record_and_beating_rewrites_it_later_by_s3s_clock() -> None:
    store = MemoryStore(LAYOUT)
    beats: list[int] = []
    mine = session(store, on_beat=lambda: beats.append(1))
    assert not is_open(mine)
    assert mine.id == A
    mine.open(CREATOR)
    assert is_open(mine)
    assert mine.role == CREATOR
    key = LAYOUT.session_key(A)
    assert list(store.objects) == [key]
    opened = record(store, A)
    assert opened["version"] == 2
    assert opened["jobs"] == []
    assert opened["arrays"] == []
    description = opened["session"]
    assert isinstance(description, dict)
    assert (description["id"], description["role"], description["state"]) == (A, "creator", "open")
    assert "pid" in description["holder"]
    store.now = at(30)
    mine.beat()
    assert store.written[key] == at(30)
    assert beats == [1]
    mine.open(CREATOR)  # open already: nothing written
    assert store.written[key] == at(30)


def test_closing_writes_the_closed_record_and_the_next_session_has_a_new_id() -> None:
    store = MemoryStore(LAYOUT)
    beats: list[int] = []
    mine = session(store, on_beat=lambda: beats.append(1))
    mine.open(CREATOR)
    mine.close()
    assert not is_open(mine)
    closed = record(store, A, closed=True)["session"]
    assert isinstance(closed, dict)
    assert closed["state"] == "closed"
    assert closed["id"] == A
    assert (mine.id, mine.ids) == (B, {A, B})
    store.now = at(60)
    mine.beat()  # closed: no heartbeat, no callback
    assert beats == []
    mine.close()  # closed already: nothing written
    assert set(store.objects) == {LAYOUT.session_key(A), LAYOUT.session_key(A, closed=True)}
    mine.open(RERUN)
    assert LAYOUT.session_key(B) in store.objects
    assert mine.role == RERUN


def test_an_open_that_s3_refuses_leaves_the_session_closed_and_writes_nothing() -> None:
    store = MemoryStore(LAYOUT, failing=True)
    mine = session(store)
    with pytest.raises(AwsError):
        mine.open(CREATOR)
    assert not is_open(mine)
    assert mine.id == A
    assert store.objects == {}
    store.failing = False
    mine.open(CREATOR)
    assert is_open(mine)


def test_a_close_whose_answer_was_lost_never_reuses_the_session_it_may_have_closed() -> None:
    store = LostAnswers(LAYOUT)
    mine = session(store)
    mine.open(CREATOR)
    store.lose = True
    with pytest.raises(AwsError):
        mine.close()
    store.lose = False
    assert not is_open(mine)  # closing was tried: it submits no more
    assert mine.id == A  # the closed record is written again under the same id
    assert LAYOUT.session_key(A, closed=True) in store.objects  # S3 did take it
    assert SessionBook(FakeClock(), 60).state(store.list_detailed(LAYOUT.manifest_prefix)).ended \
        == (A,)  # fmt: skip
    store.now = at(5)
    mine.open(RERUN)  # closes A for good first, then opens a new session
    assert store.written[LAYOUT.session_key(A, closed=True)] == at(5)
    assert is_open(mine)
    assert mine.id == B
    state = SessionBook(FakeClock(), 60).state(store.list_detailed(LAYOUT.manifest_prefix))
    assert (state.live, state.ended) == ((B,), (A,))


def test_a_failed_close_is_written_again_by_the_next_close() -> None:
    store = MemoryStore(LAYOUT)
    mine = session(store)
    mine.open(CREATOR)
    store.failing = True
    with pytest.raises(AwsError):
        mine.close()
    mine.beat()  # closing: the heartbeat is stopped
    assert LAYOUT.session_key(A, closed=True) not in store.objects
    store.failing = False
    mine.close()
    assert LAYOUT.session_key(A, closed=True) in store.objects
    assert mine.id == B
    assert not is_open(mine)


def test_a_fresh_open_record_is_live_and_a_closed_one_ended_whatever_its_open_record_says() -> None:
    book = SessionBook(FakeClock(), stale_after_seconds=60)
    listing = Listing(
        (obj(f"session-{A}.json", 0), obj(f"session-{B}-closed.json", 0),
         obj(f"session-{B}.json", 0), obj("000000-t0.json", 0)),
        at(10),
    )  # fmt: skip
    state = book.state(listing)
    assert state == BatchState(live=(A,), stale=(), ended=(B,))
    assert not state.closed
    assert book.seen_others


def test_an_open_record_older_than_the_delay_by_s3s_clock_is_stale_at_first_sight() -> None:
    book = SessionBook(FakeClock(), stale_after_seconds=60)
    assert book.state(Listing((obj(f"session-{A}.json", 0),), at(60))).live == (A,)  # not over
    state = book.state(Listing((obj(f"session-{A}.json", 0),), at(61)))
    assert state == BatchState(live=(), stale=(A,), ended=())
    assert state.closed  # a stale session counts as closed


def test_without_s3s_clock_a_record_unchanged_for_the_delay_by_the_readers_clock_is_stale() -> None:
    clock = FakeClock()
    book = SessionBook(clock, stale_after_seconds=60)
    first = Listing((obj(f"session-{A}.json", 0),), None)
    assert book.state(first).live == (A,)
    clock.advance(60)
    assert book.state(first).live == (A,)
    clock.advance(1)
    assert book.state(first).stale == (A,)
    beaten = Listing((obj(f"session-{A}.json", 61),), None)  # rewritten: a new LastModified
    assert book.state(beaten).live == (A,)
    clock.advance(60)
    assert book.state(beaten).live == (A,)
    clock.advance(1)
    assert book.state(beaten).stale == (A,)


def test_a_reader_leaves_its_own_sessions_out_and_a_batch_without_sessions_is_closed() -> None:
    book = SessionBook(FakeClock(), stale_after_seconds=60)
    own = Listing((obj(f"session-{A}.json", 0), obj("000000-t0.json", 0)), at(0))
    assert book.state(own, own={A}) == BatchState((), (), ())
    assert book.state(own, own={A}).closed
    assert not book.seen_others  # neither its own record nor a chunk is another process's
    other = Listing((obj(f"session-{A}.json", 0), obj(f"session-{C}.json", 0)), at(0))
    assert book.state(other, own={A}).live == (C,)
    assert book.seen_others


def test_a_session_read_through_the_store_goes_stale_when_its_heartbeat_stops() -> None:
    store = MemoryStore(LAYOUT)
    writer = session(store)
    writer.open(CREATOR)
    book = SessionBook(FakeClock(), stale_after_seconds=90)
    store.now = at(60)
    writer.beat()
    store.now = at(150)
    assert book.state(store.list_detailed(LAYOUT.manifest_prefix)).live == (A,)
    store.now = at(151)  # 91 s after the last beat, by S3's clock
    assert book.state(store.list_detailed(LAYOUT.manifest_prefix)).stale == (A,)


class ScriptedStop(threading.Event):
    """A heartbeat's stop event whose `wait` returns at once: not set `beats` times, then set."""

    def __init__(self, beats: int) -> None:
        super().__init__()
        self.left = beats
        self.waits: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        self.left -= 1
        return self.left < 0


def test_the_heartbeat_beats_every_interval_until_stopped_and_outlives_a_failed_write(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryStore(LAYOUT)
    beats: list[int] = []
    mine = session(store, on_beat=lambda: beats.append(1))
    mine.open(CREATOR)
    store.failing = True  # the first beat is refused by S3
    stop = ScriptedStop(beats=3)
    original = mine.beat

    def beat() -> None:
        try:
            original()
        finally:
            store.failing = False

    mine.beat = beat  # type: ignore[method-assign]
    _beat(weakref.ref(mine), stop, 30)
    assert stop.waits == [30, 30, 30, 30]
    assert beats == [1, 1]  # the refused beat is logged, the next two are written
    assert f"session {A}: heartbeat not written" in caplog.text


def test_the_heartbeat_ends_when_its_session_is_garbage_collected() -> None:
    mine = session(MemoryStore(LAYOUT))
    ref = weakref.ref(mine)
    del mine
    gc.collect()
    stop = ScriptedStop(beats=5)
    _beat(ref, stop, 30)
    assert stop.waits == [30]


def presence(store: MemoryStore, holder: str = "ann", first: int = 1) -> Presence:
    """A process's presence; `first`: its first session id (processes differ)."""
    return Presence(session(store, first), LeaseKeeper(store.store(), seconds=300, holder=holder))


def test_taking_the_lease_opens_a_rerun_session_and_giving_it_back_closes_both() -> None:
    store = MemoryStore(LAYOUT)
    ann = presence(store)
    assert ann.take_lease()
    assert held(ann.lease)
    assert is_open(ann.session)
    assert ann.session.role == RERUN
    assert json.loads(store.objects[LAYOUT.lease_key])["session"] == A
    ann.give_back(opened=True)
    assert not held(ann.lease)
    assert not is_open(ann.session)
    assert LAYOUT.session_key(A, closed=True) in store.objects
    assert json.loads(store.objects[LAYOUT.lease_key])["state"] == "released"


def test_a_process_already_open_takes_the_lease_without_a_new_session() -> None:
    store = MemoryStore(LAYOUT)
    ann = presence(store)
    ann.session.open(CREATOR)
    assert not ann.take_lease()
    assert ann.session.role == CREATOR
    ann.give_back(opened=False)  # the session it did not open stays open
    assert is_open(ann.session)
    assert not held(ann.lease)
    ann.take_lease()
    ann.stop()
    assert not is_open(ann.session)
    assert not held(ann.lease)
    assert json.loads(store.objects[LAYOUT.lease_key])["state"] == "released"


def test_a_refused_lease_opens_no_session_and_a_failed_open_releases_the_lease() -> None:
    store = MemoryStore(LAYOUT)
    presence(store).take_lease()
    bob = presence(store, holder="bob", first=50)
    with pytest.raises(RerunLeaseHeldError):
        bob.take_lease()
    assert not is_open(bob.session)
    assert not held(bob.lease)

    other = MemoryStore(LAYOUT)
    carl = presence(other, holder="carl")

    def refuse(key: str, value: object) -> None:
        raise AwsError("PutObject failed", operation="PutObject")

    other.put_json = refuse  # type: ignore[method-assign]  # session records fail, the lease not
    with pytest.raises(AwsError):
        carl.take_lease()
    assert not held(carl.lease)
    assert not is_open(carl.session)
    assert json.loads(other.objects[LAYOUT.lease_key])["state"] == "released"
