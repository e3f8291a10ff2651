"""`Poller.run(identify=True)` against a scripted array: which children it learns, and at what cost.

The rule under test: a cycle lists an array's SUCCEEDED children only when its statusSummary
counts more than are known, and only if such a listing (pages of up to 1,000) takes no more
pages than one per 100 of the newly counted children; otherwise they wait for a later cycle
(at the latest, the parent's end, which needs no listing of successes).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast

from hypothesis import given, settings
from hypothesis import strategies as st

from pcr_sdk import JobStatus
from pcr_sdk.advanced import Poller, Seams
from tests.support.fakes import FakeClock, fake_meta

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient

PARENT = "arr"


class ArrayBatch:
    """One array parent whose children succeed in the order of their index, `done[k]` of them
    after the k-th DescribeJobs; ListJobs pages hold `maxResults` children, in index order."""

    def __init__(self, size: int, done: Sequence[int]) -> None:
        self.meta = fake_meta()
        self.size = size
        self.done = list(done)
        self.describes = 0
        self.pages_per_cycle: list[int] = []

    @property
    def succeeded(self) -> int:
        return self.done[min(self.describes, len(self.done)) - 1] if self.describes else 0

    def describe_jobs(self, *, jobs: list[str]) -> dict[str, Any]:
        assert jobs == [PARENT]
        self.describes += 1
        self.pages_per_cycle.append(0)
        finished = self.describes >= len(self.done)
        count = self.size if finished else self.succeeded
        detail = {
            "jobId": PARENT,
            "status": "SUCCEEDED" if finished else "RUNNING",
            "arrayProperties": {
                "size": self.size,
                "statusSummary": {"SUCCEEDED": count, "RUNNING": self.size - count},
            },
        }
        return {"jobs": [detail]}

    def get_paginator(self, name: str) -> ArrayBatch:
        assert name == "list_jobs"
        return self

    def paginate(
        self, *, arrayJobId: str, jobStatus: str, maxResults: int
    ) -> Iterator[Any]:  # AWS names
        assert (arrayJobId, jobStatus) == (PARENT, "SUCCEEDED")
        ids = [f"{PARENT}:{i}" for i in range(self.succeeded)]
        for start in range(0, max(len(ids), 1), maxResults):
            self.pages_per_cycle[-1] += 1
            chunk = ids[start : start + maxResults]
            yield {"jobSummaryList": [{"jobId": i, "status": "SUCCEEDED"} for i in chunk]}


def follow(batch: ArrayBatch) -> list[list[str]]:
    """Each cycle's newly finished children (all must be SUCCEEDED)."""
    clock = FakeClock()
    poller = Poller(
        cast("BatchClient", batch), polling_interval_seconds=10, request_throttling_milliseconds=0,
        seams=Seams(clock=clock, sleep=clock.sleep),
    )  # fmt: skip
    children = [f"{PARENT}:{i}" for i in range(batch.size)]
    run = poller.run(children, arrays=[PARENT], identify=True)
    cycles = [[state.job_id for state in cycle] for cycle in run]
    assert {state.status for state in run.states.values()} == {JobStatus.SUCCEEDED}
    return cycles


def test_a_small_array_lists_its_successes_each_cycle_they_grow() -> None:
    batch = ArrayBatch(300, done=[0, 40, 40, 41, 250, 300])
    cycles = follow(batch)
    assert [len(c) for c in cycles] == [40, 1, 209, 50]
    assert batch.pages_per_cycle == [0, 1, 0, 1, 1, 0]  # none when nothing grew, none at the end


def test_a_large_array_waits_until_a_listing_is_worth_its_pages() -> None:
    batch = ArrayBatch(2500, done=[50, 1050, 1100, 1250, 2400, 2450, 2500])
    cycles = follow(batch)
    # 50: one page; 1050: 1000 new (two pages); 1100: 50 new would need two pages: wait;
    # 1250: 200 new, two pages; 2400: three pages; 2450: 50 new, three pages: wait; the end
    assert batch.pages_per_cycle == [1, 2, 0, 2, 3, 0, 0]
    assert [len(c) for c in cycles] == [50, 1000, 200, 1150, 100]


@settings(max_examples=min(60, settings().max_examples))  # fewer under make test-fast
@given(
    size=st.integers(2, 3500),
    steps=st.lists(st.floats(0, 1), min_size=1, max_size=12),
)
def test_pages_never_exceed_one_per_100_newly_counted(size: int, steps: list[float]) -> None:
    done = [*sorted(round(f * (size - 1)) for f in steps), size]
    batch = ArrayBatch(size, done=done)
    cycles = follow(batch)
    seen = [job_id for cycle in cycles for job_id in cycle]
    assert sorted(seen) == sorted(f"{PARENT}:{i}" for i in range(size))  # each child once
    known = 0
    for pages, count in zip(batch.pages_per_cycle, batch.done, strict=False):
        if pages:
            assert pages <= math.ceil((count - known) / 100), (pages, count, known)
            known = count
