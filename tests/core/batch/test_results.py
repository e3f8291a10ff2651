"""Results in bulk: what the ledger knows costs nothing, the rest is asked once (plain jobs by id,
children through their parent); outputs only for jobs that did not fail. A fake poller answers
and records what it was asked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

from pcr_sdk import BatchLayout, JobStatus, OutputNotFoundError, SubmittedJob
from pcr_sdk._private.batch.ledger import Ledger
from pcr_sdk._private.batch.manifest import ArrayRecord
from pcr_sdk._private.batch.results import BatchResults, read_output
from pcr_sdk._private.model.results import JobState
from pcr_sdk._private.services.poller import Poller
from pcr_sdk._private.services.store import InputStore
from tests.support.fakes import ListJournal

LAYOUT = BatchLayout("b_1")


class Answers:
    """DescribeJobs and the children's ListJobs, from fixed states."""

    def __init__(self, states: Mapping[str, JobState], children: Mapping[str, JobState]) -> None:
        self.states = states
        self.children = children
        self.described: list[list[str]] = []
        self.listed: list[str] = []

    def describe(self, job_ids: Sequence[str]) -> dict[str, JobState]:
        self.described.append(list(job_ids))
        return {i: self.states[i] for i in job_ids if i in self.states}

    def all_children(self, array_id: str, parent: JobState) -> dict[str, JobState]:
        self.listed.append(array_id)
        return {i: s for i, s in self.children.items() if i.startswith(f"{array_id}:")}

    def poller(self) -> Poller:
        return cast("Poller", self)


def test_known_results_cost_nothing_and_the_rest_is_asked_once() -> None:
    ledger = Ledger("b_1", ListJournal())
    for job in (SubmittedJob("done", 0), SubmittedJob("running", 1), SubmittedJob("gone", 2)):
        ledger.record(job)
    ledger.record_array(ArrayRecord("arr", 3, 2))
    ledger.learn([JobState("done", JobStatus.SUCCEEDED)])
    answers = Answers(
        {"running": JobState("running", JobStatus.RUNNING),
         "arr": JobState("arr", JobStatus.RUNNING, children={"SUCCEEDED": 1, "FAILED": 1})},
        {"arr:0": JobState("arr:0", JobStatus.SUCCEEDED, summary_only=True),
         "arr:1": JobState("arr:1", JobStatus.FAILED, summary_only=True)},
    )  # fmt: skip
    results = BatchResults(ledger, answers.poller(), LAYOUT).results()
    assert [(r.job_id, r.status) for r in results] == [
        ("done", JobStatus.SUCCEEDED), ("running", JobStatus.RUNNING),
        ("gone", JobStatus.EXPIRED), ("arr:0", JobStatus.SUCCEEDED), ("arr:1", JobStatus.FAILED),
    ]  # fmt: skip
    assert answers.described == [["running", "gone", "arr"], ["arr:1"]]  # a failed child: why
    assert answers.listed == ["arr"]
    assert results[2].output_key == LAYOUT.output_key(2)
    answers.described.clear()
    BatchResults(ledger, answers.poller(), LAYOUT).results(["done", "arr:0"])
    assert answers.described == [[]]  # finished states are never asked for again


class Outputs:
    def __init__(self) -> None:
        self.read: list[int] = []

    def get_output_text(self, index: int, *, job_id: str | None = None) -> str:
        self.read.append(index)
        if index == 2:
            raise OutputNotFoundError("none", key="k", job_id=job_id)
        return '{"n": %d}' % index  # noqa: UP031 - JSON braces

    def store(self) -> InputStore:
        return cast("InputStore", self)


def test_a_failed_job_has_no_output_and_a_missing_one_is_none() -> None:
    outputs = Outputs()
    failed = JobState("f", JobStatus.FAILED)
    assert read_output(outputs.store(), SubmittedJob("f", 1), failed) is None
    assert outputs.read == []  # a failed job's stale output is never read
    assert read_output(outputs.store(), SubmittedJob("m", 2), None) is None
    assert read_output(outputs.store(), SubmittedJob("ok", 3), None) == '{"n": 3}'
