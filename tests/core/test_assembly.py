"""The composition root: settings validated first, then one batch's services wired to the same
clients, governor and ledger, without a request."""

from __future__ import annotations

import pytest

from pcr_sdk import BatchId, JobDefinitionSpec, PcrInputError, PrintProgress, RateGovernor
from pcr_sdk._private.assembly import assemble, batch_settings, lost_answer_policy
from pcr_sdk._private.seams import Seams
from pcr_sdk.advanced import BatchRegistry
from tests.support.fakes import FakeClock, NoCalls, RequestSent


def test_settings_come_first_and_name_the_bad_one() -> None:
    settings = batch_settings("q", "bkt", 30, 0, io_workers=4, progress=object())
    assert (settings.poll.interval_seconds, settings.poll.request_spacing_ms) == (30, 0)
    assert settings.store.io_workers == 4  # collaborators (progress, ...) are not settings
    with pytest.raises(PcrInputError, match="io_workers"):
        batch_settings("q", "bkt", io_workers=0)
    with pytest.raises(PcrInputError, match="bucket"):
        batch_settings("q", "no such bucket")


def test_one_batch_is_wired_to_the_same_clients_governor_and_ledger_without_a_request() -> None:
    no_calls = NoCalls()
    clock = FakeClock()
    seams = Seams(clock=clock, sleep=clock.sleep, random_source=lambda: 0.25)
    settings = batch_settings("q", "bkt", lost_answer_settle_seconds=1.5)
    batch_id = BatchId.new("wired")
    registry = BatchRegistry(no_calls.clients.batch, batch_id, JobDefinitionSpec(image="img"))
    governor = RateGovernor.per_second(10, clock=clock, sleep=clock.sleep)
    lost = lost_answer_policy(settings, no_calls.clients, seams)
    assert (lost.attempts, lost.settle_seconds, lost.backoff(1)) == (8, 1.5, 0.5)
    parts = assemble(settings, registry, no_calls.clients, governor, lost, None, seams)
    assert parts.submitter.governor is governor
    assert parts.poller.reads.batch is no_calls.clients.batch
    assert parts.submitter.lost_answers is lost
    assert parts.store.layout == parts.layout == parts.submitter.layout
    assert parts.layout.batch_id == str(batch_id)
    assert parts.manifest.batch.job_definition == registry.reference
    assert isinstance(parts.progress, PrintProgress)  # the seed's default
    assert no_calls.sent == []
    with pytest.raises(RequestSent):  # the ledger journals to the manifest, which writes to S3
        parts.ledger.reserve(1)
    assert len(no_calls.sent) == 1  # the first request of all
    assert "bkt" in no_calls.sent[0]
    assert f"/jobs/{batch_id}/manifest/" in no_calls.sent[0]
