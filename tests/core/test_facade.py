"""`JobSubmitter`: the facade over the services (what it adds: the resume hint, the seed's API).

Offline (`offline_submitter`: RegisterJobDefinition stubbed, nothing else answered), then on
a MotoWorld."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from pcr_sdk import (
    CredentialsExpiredError,
    InvalidBatchNameError,
    JobNotFoundError,
    JobSubmitter,
    PcrInputError,
)
from pcr_sdk._private.model.specs import CheckedInputs
from pcr_sdk.advanced import InputStore, JobSpec
from tests.support.fakes import FakeClock, NoCalls
from tests.support.submitters import new_submitter, offline_submitter

if TYPE_CHECKING:
    from pcr_sdk.testing import MotoWorld

pytestmark = pytest.mark.moto_world(polls_to_finish=1)  # for the test on a MotoWorld


def test_the_constructor_registers_one_definition_and_sends_nothing_else() -> None:
    with offline_submitter("seed") as (sub, no_calls):
        assert sub.get_batch_id().startswith("seed_")
        assert sub.jobs == ()
        assert not sub.closed
        assert no_calls.sent == []  # no S3, no Logs: only the stubbed registration


def test_the_seed_api_on_a_batch_without_jobs_makes_no_call() -> None:
    with offline_submitter() as (sub, no_calls):
        assert sub.get_all_outputs() == []
        assert sub.get_results() == []
        with pytest.raises(JobNotFoundError):
            sub.get_output("not-a-job")
        assert no_calls.sent == []


def test_attach_refuses_a_bad_batch_id_or_queue_before_any_request() -> None:
    no_calls = NoCalls()
    with pytest.raises(InvalidBatchNameError):
        JobSubmitter.attach("not-an-id", job_queue="q", job_bucket="bkt", clients=no_calls.clients)
    with pytest.raises(PcrInputError):
        JobSubmitter.attach(
            "b_c6bc6ee9-0000-4000-8000-000000000000", job_queue="q", job_bucket="bkt",
            clients=no_calls.clients, polling_interval_seconds=-1,
        )  # fmt: skip
    assert no_calls.sent == []


def make(world: MotoWorld, clock: FakeClock | None = None, **kw: Any) -> JobSubmitter:
    return new_submitter(world, clock, **{"polling_interval_seconds": 60, **kw})


@pytest.mark.integration
def test_expired_credentials_mid_wait_say_how_to_resume(moto_world: MotoWorld) -> None:
    """Defect 5: an expired token surfaced as a generic AwsError mid-wait."""
    sub = make(moto_world)
    sub.submit_job({})

    def expired(**_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "ExpiredTokenException", "Message": "token expired"}},
            "DescribeJobs",
        )

    moto_world.clients.batch.meta.events.register_first("before-call.batch.DescribeJobs", expired)
    with pytest.raises(CredentialsExpiredError) as raised:
        sub.wait_until_jobs_finished()
    message = str(raised.value)
    assert raised.value.batch_id == sub.get_batch_id()
    assert "JobSubmitter.attach" in message
    assert f"pcr wait {sub.get_batch_id()}" in message
    moto_world.clients.batch.meta.events.unregister("before-call.batch.DescribeJobs", expired)


def test_an_array_is_uploaded_from_its_inputs_not_from_texts_held_for_all(
    moto_world: MotoWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`submit_jobs` checks the inputs and keeps their sizes only: the store gets them as
    `CheckedInputs`, each serialized again as its part goes out (see the store's test)."""
    given: list[object] = []
    put = InputStore.put_packed_inputs

    def spy(store: InputStore, base_index: int, specs: Sequence[JobSpec]) -> str:
        given.append(specs)
        return put(store, base_index, specs)

    monkeypatch.setattr(InputStore, "put_packed_inputs", spy)
    inputs = [{"i": i, "s": "é" * i} for i in range(5)]
    with make(moto_world) as sub:
        ids = sub.submit_jobs(inputs)
        sub.detach()
    assert len(ids) == 5
    assert len(given) == 1
    checked = given[0]
    assert isinstance(checked, CheckedInputs)
    assert [spec.input for spec in checked] == inputs
