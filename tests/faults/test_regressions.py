"""Bugs the fault suite found, kept as regression tests (the stateful test injects them too)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pcr_sdk import (
    AwsConnectionError,
    AwsError,
    BatchClosedError,
    JobSubmitter,
    SilentProgress,
    ThrottledError,
)
from pcr_sdk._private.services.registry import register_request
from pcr_sdk.advanced import Seams
from pcr_sdk.testing import Fault, MotoWorld
from tests.support.fakes import FakeClock
from tests.support.sharing import age

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def make(world: MotoWorld, clock: FakeClock) -> JobSubmitter:
    return JobSubmitter(
        "bug", world.queue, "python:3.11", world.bucket, clients=world.clients,
        seams=Seams(clock=clock, sleep=clock.sleep), progress=SilentProgress(),
    )  # fmt: skip


@pytest.mark.moto_world(polls_to_finish=0)
@pytest.mark.parametrize(
    ("kind", "times"),
    [(Fault.LOST_RESPONSE, 1), (Fault.SERVER_ERROR, 1), (Fault.SERVER_ERROR, 3)],
)
def test_an_ambiguous_register_leaves_exactly_one_revision_and_deregisters_it(
    moto_world: MotoWorld, kind: Fault, times: int
) -> None:
    """botocore used to resend RegisterJobDefinition blindly: revision 1 stayed ACTIVE."""
    fault = moto_world.faults.add(
        service="batch", operation="RegisterJobDefinition", kind=kind, times=times
    )
    clock = FakeClock()
    with make(moto_world, clock) as submitter:
        submitter.submit_job({"n": 1})
        submitter.wait_until_jobs_finished()
    assert fault.injected == times
    found = moto_world.clients.batch.describe_job_definitions(
        jobDefinitionName=submitter.get_batch_id()
    )["jobDefinitions"]
    # a lost answer's revision is adopted; a 500 made none, so it is sent again
    assert {d["revision"]: d["status"] for d in found} == {1: "INACTIVE"}
    assert submitter.get_result(submitter.jobs[0].job_id).status.value == "SUCCEEDED"


@pytest.mark.moto_world(polls_to_finish=0)
def test_register_gives_up_when_every_answer_is_ambiguous(moto_world: MotoWorld) -> None:
    """A bounded number of look-then-resend rounds, then a typed error naming the operation."""
    fault = moto_world.faults.add(
        service="batch", operation="RegisterJobDefinition", kind=Fault.SERVER_ERROR,
        times=None,
    )  # fmt: skip
    with pytest.raises(AwsError) as raised:
        make(moto_world, FakeClock())
    assert raised.value.operation == "RegisterJobDefinition"
    assert fault.injected == 8  # as many sends as botocore would make
    definitions = moto_world.clients.batch.describe_job_definitions()["jobDefinitions"]
    assert definitions == []
    assert moto_world.jobs() == []


@pytest.mark.moto_world(polls_to_finish=0)
@pytest.mark.parametrize("kind", [Fault.CONNECTION_ERROR, Fault.LOST_RESPONSE])
@pytest.mark.parametrize("call", ["get_output", "get_all_outputs", "attach"])
def test_get_object_connection_errors_surface_as_aws_errors(
    moto_world: MotoWorld, kind: Fault, call: str
) -> None:
    """GetObject used to let botocore's connection errors escape raw once retries were spent."""
    moto_world.script.worker(lambda data: data)
    clock = FakeClock()
    submitter = make(moto_world, clock)
    job_id = submitter.submit_job({"n": 1})
    submitter.close()  # the manifest is in S3 now: attach reads it with GetObject
    moto_world.faults.add(service="s3", operation="GetObject", kind=kind, times=None)
    calls: dict[str, Callable[[], object]] = {
        "get_output": lambda: submitter.get_output(job_id),
        "get_all_outputs": submitter.get_all_outputs,
        "attach": lambda: JobSubmitter.attach(
            submitter.get_batch_id(),
            job_queue=moto_world.queue,
            job_bucket=moto_world.bucket,
            clients=moto_world.clients,
            seams=Seams(clock=clock, sleep=clock.sleep),
            progress=SilentProgress(),
        ),
    }
    with pytest.raises(AwsConnectionError) as raised:
        calls[call]()
    assert raised.value.operation == "GetObject"
    assert raised.value.bucket == moto_world.bucket


@pytest.mark.moto_world(polls_to_finish=0)
def test_a_register_that_fails_after_a_lost_answer_leaves_nothing_active(
    moto_world: MotoWorld,
) -> None:
    """The look-up after the lost answer fails too: the revision it made is still deregistered."""
    moto_world.faults.add(
        service="batch", operation="RegisterJobDefinition", kind=Fault.LOST_RESPONSE
    )
    lookup = moto_world.faults.add(
        service="batch", operation="DescribeJobDefinitions", kind=Fault.THROTTLE, times=8
    )
    with pytest.raises(AwsError) as raised:
        make(moto_world, FakeClock())
    assert raised.value.operation == "DescribeJobDefinitions"
    assert lookup.injected == 8
    definitions = moto_world.clients.batch.describe_job_definitions()["jobDefinitions"]
    assert [(d["revision"], d["status"]) for d in definitions] == [(1, "INACTIVE")]


@pytest.mark.moto_world(polls_to_finish=0)
def test_an_attached_batch_with_two_active_revisions_deregisters_both(
    moto_world: MotoWorld,
) -> None:
    """A process that died after an ambiguous register may leave two; attach cleans up both."""
    first = make(moto_world, FakeClock())
    first.submit_job({"n": 1})
    batch_id = first.get_batch_id()
    moto_world.clients.batch.register_job_definition(
        **register_request(first._registry.batch_id, first.spec)
    )
    first._presence.session._stop.set()  # it died long ago: its session is stale by S3's clock
    age(moto_world, first.layout.session_key(first._presence.session.id), 601)
    clock = FakeClock()
    attached = JobSubmitter.attach(
        batch_id, job_queue=moto_world.queue, job_bucket=moto_world.bucket,
        clients=moto_world.clients, seams=Seams(clock=clock, sleep=clock.sleep),
        progress=SilentProgress(),
    )  # fmt: skip
    attached.close()
    found = moto_world.clients.batch.describe_job_definitions(jobDefinitionName=batch_id)
    assert {d["revision"]: d["status"] for d in found["jobDefinitions"]} == {
        1: "INACTIVE",
        2: "INACTIVE",
    }


@pytest.mark.moto_world(polls_to_finish=0)
@pytest.mark.parametrize("lost_register", [False, True])
def test_a_failed_deregistration_is_retried_by_close(
    moto_world: MotoWorld, lost_register: bool
) -> None:
    """Found by the fault suite: once deregistering failed, close() never tried again."""
    if lost_register:  # then deregistering first looks up which revisions are ACTIVE
        moto_world.faults.add(
            service="batch", operation="RegisterJobDefinition", kind=Fault.LOST_RESPONSE
        )
    clock = FakeClock()
    submitter = make(moto_world, clock)
    submitter.submit_job({"n": 1})
    operation = "DescribeJobDefinitions" if lost_register else "DeregisterJobDefinition"
    moto_world.faults.add(service="batch", operation=operation, kind=Fault.THROTTLE, times=8)
    with pytest.raises(ThrottledError) as raised:
        submitter.wait_until_jobs_finished()
    assert raised.value.operation == operation
    registry = submitter._registry

    def closed_and_deregistered() -> tuple[bool, bool]:
        return registry.closed, registry.deregistered

    assert closed_and_deregistered() == (True, False)
    with pytest.raises(BatchClosedError):
        submitter.submit_job({"n": 2})
    submitter.close()  # the faults are spent: this time it works
    assert closed_and_deregistered() == (True, True)
    found = moto_world.clients.batch.describe_job_definitions(
        jobDefinitionName=submitter.get_batch_id()
    )["jobDefinitions"]
    assert {d["status"] for d in found} == {"INACTIVE"}
    submitter.close()  # and later calls do nothing
