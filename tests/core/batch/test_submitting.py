"""Submission on a few threads (`send_each`): results in order, the first failure stops the
rest, the manifest is flushed whatever happens. Real threads, waiting on events only."""

from __future__ import annotations

import threading
from typing import cast

import pytest

from pcr_sdk._private.batch.manifest import Manifest
from pcr_sdk._private.batch.submitting import send_each


class Flushes:
    """The one thing `send_each` asks of the manifest."""

    def __init__(self) -> None:
        self.count = 0

    def flush_soon(self) -> None:
        self.count += 1

    def manifest(self) -> Manifest:
        return cast("Manifest", self)


def test_results_come_in_offset_order_from_concurrent_calls() -> None:
    flushes = Flushes()
    all_in = threading.Barrier(4, timeout=10)  # four calls under way at once, or it fails

    def send(offset: int) -> str:
        if offset < 4:
            all_in.wait()
        return f"job-{offset}"

    ids = send_each(10, send, io_workers=4, manifest=flushes.manifest())
    assert ids == [f"job-{i}" for i in range(10)]
    assert flushes.count == 1
    assert send_each(0, send, io_workers=4, manifest=flushes.manifest()) == []


def test_the_first_failure_stops_the_rest_and_is_raised_after_the_flush() -> None:
    flushes = Flushes()
    sent: list[int] = []
    lock = threading.Lock()

    def send(offset: int) -> str:
        if offset == 2:
            raise ValueError("SubmitJob failed")
        with lock:
            sent.append(offset)
        return f"job-{offset}"

    with pytest.raises(ValueError, match="SubmitJob failed"):
        send_each(100, send, io_workers=1, manifest=flushes.manifest())
    assert sent == [0, 1]  # one thread: nothing after the failure started
    assert flushes.count == 1
