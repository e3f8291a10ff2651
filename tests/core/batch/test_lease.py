"""The rerun lease (`LeaseKeeper`) over a `MemoryStore` whose conditional writes refuse as S3's
do: taken by one process only, refused with its holder and expiry, renewed, run out by S3's
clock (the listing's server time, never this machine's), broken only if unchanged."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from pcr_sdk import AwsError, BatchLayout, RerunLeaseHeldError
from pcr_sdk._private.batch.lease import LeaseKeeper, RerunLease, condition_failed
from tests.support.fakes import WRITTEN, MemoryStore

LAYOUT = BatchLayout("b_1")
KEY = LAYOUT.lease_key


def keeper(store: MemoryStore, holder: str = "ann@host pid 1", seconds: float = 300) -> LeaseKeeper:
    return LeaseKeeper(store.store(), seconds=seconds, holder=holder)


def held(lease: LeaseKeeper) -> bool:
    """Read afresh: mypy would keep an assert's narrowing across the calls that change it."""
    return lease.held


def document(store: MemoryStore) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(store.objects[KEY])
    return loaded


def seen(store: MemoryStore) -> RerunLease:
    lease = keeper(store, holder="reader").look()
    assert lease is not None
    return lease


def test_no_lease_object_reads_as_none_and_the_first_taker_writes_it_held() -> None:
    store = MemoryStore(LAYOUT)
    ann = keeper(store)
    assert ann.look() is None
    assert not held(ann)
    ann.acquire("aaaaaaaa")
    assert held(ann)
    assert document(store) == {
        "version": 1, "batch_id": "b_1", "holder": "ann@host pid 1", "session": "aaaaaaaa",
        "seconds": 300, "state": "held", "write": 1,
    }  # fmt: skip
    lease = seen(store)
    assert lease.holder == "ann@host pid 1, session aaaaaaaa"
    assert (lease.written_at, lease.expires_at) == (WRITTEN, WRITTEN + timedelta(seconds=300))
    assert lease.in_force


def test_a_second_process_is_refused_with_the_holder_and_the_expiry_by_s3s_clock() -> None:
    store = MemoryStore(LAYOUT)
    keeper(store).acquire("aaaaaaaa")
    before = dict(store.objects)
    bob = keeper(store, holder="bob@other pid 2")
    with pytest.raises(RerunLeaseHeldError) as caught:
        bob.acquire("bbbbbbbb")
    assert caught.value.batch_id == "b_1"
    assert caught.value.holder == "ann@host pid 1, session aaaaaaaa"
    assert caught.value.expires_at == WRITTEN + timedelta(seconds=300)
    assert "ann@host pid 1" in str(caught.value)
    assert "2026-01-01 00:05:00" in str(caught.value)
    assert "--break-lease" in str(caught.value)
    assert not held(bob)
    assert store.objects == before  # the holder's lease is untouched


def test_renewing_moves_the_expiry_by_s3s_clock_and_keeps_the_lease() -> None:
    store = MemoryStore(LAYOUT)
    ann = keeper(store)
    ann.acquire("aaaaaaaa")
    store.now = WRITTEN + timedelta(seconds=250)
    ann.renew()
    assert held(ann)
    lease = seen(store)
    assert lease.written_at == WRITTEN + timedelta(seconds=250)
    assert lease.expires_at == WRITTEN + timedelta(seconds=550)
    store.now = WRITTEN + timedelta(seconds=400)  # past the first expiry, not the renewed one
    assert seen(store).in_force


def test_a_lease_runs_out_by_the_listings_server_time_and_may_then_be_taken_over() -> None:
    store = MemoryStore(LAYOUT)
    keeper(store, seconds=60).acquire("aaaaaaaa")
    store.now = WRITTEN + timedelta(seconds=59)
    assert not seen(store).expired
    store.now = WRITTEN + timedelta(seconds=60)  # exactly at expiry: run out
    lease = seen(store)
    assert lease.expired
    assert lease.held
    assert not lease.in_force
    bob = keeper(store, holder="bob@other pid 2")
    bob.acquire("bbbbbbbb")
    assert held(bob)
    assert document(store)["holder"] == "bob@other pid 2"
    assert document(store)["session"] == "bbbbbbbb"
    assert seen(store).written_at == WRITTEN + timedelta(seconds=60)


def test_a_released_lease_may_be_taken_at_once_by_another_process() -> None:
    store = MemoryStore(LAYOUT)
    ann = keeper(store)
    ann.acquire("aaaaaaaa")
    ann.release()
    assert not held(ann)
    assert document(store)["state"] == "released"
    lease = seen(store)
    assert not lease.held
    assert not lease.expired
    assert not lease.in_force
    keeper(store, holder="bob@other pid 2").acquire("bbbbbbbb")
    assert document(store)["state"] == "held"


def test_acquiring_a_lease_this_process_holds_renews_it_in_place() -> None:
    store = MemoryStore(LAYOUT)
    ann = keeper(store)
    ann.acquire("aaaaaaaa")
    store.now = WRITTEN + timedelta(seconds=100)
    ann.acquire("cccccccc")  # held already: renewed, the session named stays
    assert document(store)["session"] == "aaaaaaaa"
    assert seen(store).written_at == WRITTEN + timedelta(seconds=100)


def test_a_lease_whose_write_answer_was_lost_is_recognised_as_ours_by_its_session() -> None:
    store = MemoryStore(LAYOUT)
    keeper(store).acquire("aaaaaaaa")  # it landed, but this process never heard
    again = keeper(store)
    again.acquire("aaaaaaaa")
    assert held(again)
    again.renew()  # its ETag is the one in S3: the renewal holds
    assert held(again)


def test_a_holder_whose_lease_was_broken_learns_it_at_its_next_renewal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryStore(LAYOUT)
    ann = keeper(store, seconds=60)
    ann.acquire("aaaaaaaa")
    store.now = WRITTEN + timedelta(seconds=120)
    bob = keeper(store, holder="bob@other pid 2")
    assert bob.break_lease(seen(store), by="bob")
    assert document(store)["state"] == "released"
    assert document(store)["holder"] == "broken by bob"
    ann.renew()
    assert not held(ann)
    assert "broken by another process" in caplog.text
    ann.release()  # holds nothing: writes nothing
    assert document(store)["holder"] == "broken by bob"


def test_a_break_of_a_version_that_changed_since_it_was_read_does_nothing() -> None:
    store = MemoryStore(LAYOUT)
    keeper(store, seconds=60).acquire("aaaaaaaa")
    store.now = WRITTEN + timedelta(seconds=120)
    stale_view = seen(store)
    keeper(store, holder="bob@other pid 2").acquire("bbbbbbbb")  # taken over meanwhile
    after = dict(store.objects)
    assert not keeper(store, holder="carl").break_lease(stale_view, by="carl")
    assert store.objects == after
    assert document(store)["holder"] == "bob@other pid 2"


def test_a_break_of_a_version_its_holder_renewed_since_it_was_read_does_nothing() -> None:
    store = MemoryStore(LAYOUT)
    ann = keeper(store, seconds=60)
    ann.acquire("aaaaaaaa")
    store.now = WRITTEN + timedelta(seconds=61)
    stale_view = seen(store)
    assert stale_view.expired
    ann.renew()  # late, but the holder is alive and renewed it
    assert seen(store).in_force
    assert not keeper(store, holder="bob").break_lease(stale_view, by="bob")


def test_s3_errors_other_than_a_failed_condition_reach_the_caller() -> None:
    store = MemoryStore(LAYOUT, failing=True)
    ann = keeper(store)
    with pytest.raises(AwsError) as caught:
        ann.acquire("aaaaaaaa")
    assert not condition_failed(caught.value)
    assert not held(ann)
    assert KEY not in store.objects


def test_only_s3s_condition_codes_count_as_a_failed_condition() -> None:
    for code in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
        assert condition_failed(AwsError("x", operation="PutObject", code=code))
    for other in ("AccessDenied", "NoSuchKey", None):
        assert not condition_failed(AwsError("x", operation="PutObject", code=other))


def test_an_unreadable_lease_counts_as_held_until_it_runs_out_by_s3s_clock(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryStore(LAYOUT)
    store.objects[KEY] = b"not json"
    bob = keeper(store, holder="bob", seconds=30)
    lease = bob.look()
    assert lease is not None
    assert lease.holder == "(unreadable lease)"
    assert lease.in_force
    assert "unreadable" in caplog.text
    with pytest.raises(RerunLeaseHeldError):
        bob.acquire("bbbbbbbb")
    store.now = WRITTEN + timedelta(seconds=30)
    bob.acquire("bbbbbbbb")
    assert document(store)["holder"] == "bob"
