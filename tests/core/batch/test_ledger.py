"""`Ledger`: one batch's job table (indexes, attempts, settling, labels, reconciling on attach)."""

from __future__ import annotations

import logging

import pytest

from pcr_sdk import SubmittedJob
from pcr_sdk._private.batch.ledger import Ledger
from pcr_sdk._private.batch.manifest import ArrayRecord, LoadedManifest
from pcr_sdk._private.batch.status import _NoJournal


def test_the_ledger_keeps_the_highest_attempt_current_and_ignores_a_duplicate(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ledger = Ledger("b", _NoJournal())
    loaded = LoadedManifest(jobs=[SubmittedJob("first", 0), SubmittedJob("other", 1)])
    found = [
        (SubmittedJob("first", 0), None),
        (SubmittedJob("rerun", 0, attempt=2), None),
        (SubmittedJob("twin", 1), None),  # the same attempt as the manifest's job 1
        (SubmittedJob("r:0", 2, (), "r", 3), None),
        (SubmittedJob("r:1", 5, (), "r", 3), None),
    ]
    with caplog.at_level(logging.WARNING):
        recovered = ledger.reconcile(loaded, found)
    assert recovered == 3
    assert [job.job_id for job in ledger.jobs] == ["rerun", "other", "r:0", "r:1"]
    assert len(ledger) == 4
    assert ledger.job("first").index == 0  # an older attempt is still known by its id
    assert ledger.members("r") == [2, 5]
    assert ledger.array("r") == ArrayRecord("r", 2, 2, (), 3, (2, 5))
    assert ledger.next_attempt() == 4
    assert "also has twin" in caplog.text
