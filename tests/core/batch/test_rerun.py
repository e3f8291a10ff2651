"""Reruns on their own: which failure kinds may be asked for, and the plan (which indexes
rerun, in which rounds) over a ledger on a `ListJournal`."""

from __future__ import annotations

from typing import Any

import pytest

from pcr_sdk import FailureKind, PcrInputError, SubmittedJob
from pcr_sdk._private.batch.ledger import Ledger
from pcr_sdk._private.batch.manifest import ArrayRecord
from pcr_sdk._private.batch.rerun import _plan, _Statuses, failure_kinds
from tests.support.fakes import ListJournal

EXIT, TIMEOUT, DEP = FailureKind.NON_ZERO_EXIT, FailureKind.TIMEOUT, FailureKind.DEPENDENCY_FAILED


def test_the_kinds_asked_for_are_checked_before_any_call() -> None:
    assert failure_kinds(None) is None
    assert failure_kinds(["timeout", EXIT]) == frozenset({TIMEOUT, EXIT})
    bad: list[tuple[Any, str]] = [
        ("timeout", "must be a set"),
        (["nope"], "unknown failure kind 'nope'"),
        ([], "kinds is empty"),
        ([DEP], "may not name 'dependency-failed'"),
    ]
    for kinds, message in bad:
        with pytest.raises(PcrInputError, match=message):
            failure_kinds(kinds)


def batch() -> Ledger:
    """0 ok; 1 failed; 2 depends on 1 (dependency failed); 3 timed out; 4, 5: an array
    depending on 3 (dependency failed); 6 depends on 0 only, failed."""
    ledger = Ledger("b_1", ListJournal())
    for job in (SubmittedJob("j0", 0), SubmittedJob("j1", 1), SubmittedJob("j2", 2, ("j1",)),
                SubmittedJob("j3", 3)):  # fmt: skip
        ledger.record(job)
    ledger.record_array(ArrayRecord("arr", 4, 2, ("j3",)))
    ledger.record(SubmittedJob("j6", 6, ("j0",)))
    return ledger


FAILED = {1: EXIT, 2: DEP, 3: TIMEOUT, 4: DEP, 5: DEP, 6: EXIT}


def test_every_failure_reruns_dependencies_first() -> None:
    plan = _plan(batch(), _Statuses(failed=dict(FAILED)), kinds=None)
    assert plan.levels == [[1, 3, 6], [2, 4, 5]]
    assert plan.deps[2] == frozenset({1})
    assert plan.deps[4] == frozenset({3})
    assert plan.deps[6] == frozenset({0})  # 0 SUCCEEDED: waited for, not rerun
    assert [job.job_id for job in plan.jobs.values()] == ["j1", "j2", "j3", "arr:0", "arr:1", "j6"]


def test_a_kind_reruns_its_failures_and_the_dependents_of_those_only() -> None:
    plan = _plan(batch(), _Statuses(failed=dict(FAILED)), kinds=frozenset({TIMEOUT}))
    assert plan.levels == [[3], [4, 5]]  # 2 waits for 1, which is not rerun: it stays failed
    assert _plan(batch(), _Statuses(), kinds=None).levels == []
