"""botocore handlers on pcr-sdk's own requests only: the caller's calls on a shared client keep
botocore's behaviour."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

from pcr_sdk import JobSubmitter, RateGovernor
from pcr_sdk._private.edge import hooks
from pcr_sdk.testing import Fault, MotoWorld
from tests.support.fakes import FakeClock, NoCalls
from tests.support.submitters import new_submitter

pytestmark = pytest.mark.moto_world(polls_to_finish=1)  # for the tests on a MotoWorld


def make(world: MotoWorld, clock: FakeClock | None = None, **kw: Any) -> JobSubmitter:
    return new_submitter(world, clock, **{"polling_interval_seconds": 60, **kw})


# -- the handlers on their own ------------------------------------------------------------------


class Listener:
    def __init__(self) -> None:
        self.throttles = 0

    def on_throttle(self) -> None:
        self.throttles += 1


def response(status: int, code: str | None = None) -> tuple[Any, dict[str, Any]]:
    """What botocore hands needs-retry: (HTTP response, parsed body)."""
    parsed = {"Error": {"Code": code}} if code else {}
    return SimpleNamespace(status_code=status), parsed


def request_dict(**scope: Any) -> dict[str, Any]:
    """A request's dict as botocore builds it, marked inside `scope(**scope)` if given."""
    context: dict[str, Any] = {}
    if scope:
        with hooks.scope(**scope):
            hooks._mark(context)
    else:
        hooks._mark(context)
    return {"context": context}


def test_a_call_outside_pcr_sdks_scope_is_left_to_botocore() -> None:
    listener = Listener()
    plain = request_dict()
    assert plain == {"context": {}}
    hooks._needs_retry(plain, response(500))
    hooks._needs_retry(plain, response(400, "ThrottlingException"))
    hooks._needs_retry(plain, None, EndpointConnectionError(endpoint_url="u"))
    assert listener.throttles == 0


def test_pcr_sdks_own_call_reports_throttling_and_never_resends_blindly() -> None:
    listener = Listener()
    own = request_dict(no_blind_retry=True, throttle_listener=listener)
    hooks._needs_retry(own, response(400, "ThrottlingException"))  # retried
    hooks._needs_retry(own, response(429))
    assert listener.throttles == 2
    with pytest.raises(hooks.AmbiguousCall, match="HTTP 503"):
        hooks._needs_retry(own, response(503))
    with pytest.raises(hooks.AmbiguousCall):
        hooks._needs_retry(own, None, ReadTimeoutError(endpoint_url="u"))
    # not applied by AWS: botocore may resend these
    hooks._needs_retry(own, None, EndpointConnectionError(endpoint_url="u"))
    hooks._needs_retry(own, None, ConnectTimeoutError(endpoint_url="u"))


def test_install_is_idempotent_and_max_attempts_reads_the_retry_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    marked: list[object] = []
    monkeypatch.setattr(hooks, "_mark", lambda context, **_: marked.append(context))
    client = NoCalls(region="eu-west-3").clients.batch  # clients of their own
    hooks.install(client)
    hooks.install(client)
    model = client.meta.service_model.operation_model("SubmitJob")
    client.meta.events.emit(
        "before-parameter-build.batch.SubmitJob", params={}, model=model, context={}
    )
    assert len(marked) == 1  # registered once
    assert hooks.max_attempts(client) == 8  # pcr-sdk's clients: standard mode, 8 in all
    legacy = SimpleNamespace(retries={"max_attempts": 4})  # botocore's legacy count: retries
    assert hooks.max_attempts(SimpleNamespace(meta=SimpleNamespace(config=legacy))) == 5
    assert hooks.max_attempts(SimpleNamespace(meta=SimpleNamespace(config=None))) == 3


# -- on a MotoWorld: the caller's calls on a shared client ---------------------------------------


@pytest.mark.integration
def test_the_callers_own_calls_on_a_shared_client_keep_botocores_retries(
    moto_world: MotoWorld,
) -> None:
    """Defect 2: after JobSubmitter(clients=...), the caller's own submit_job on that client
    raised pcr-sdk's private AmbiguousCall on one HTTP 500 instead of being retried."""
    sub = make(moto_world)
    sub.submit_job({"mine": True})  # pcr-sdk's handlers are installed on the client now
    arn = moto_world.register_job_definition("callers-own")
    moto_world.faults.add(service="batch", operation="SubmitJob", kind=Fault.SERVER_ERROR, times=1)
    moto_world.faults.add(
        service="batch", operation="RegisterJobDefinition", kind=Fault.SERVER_ERROR, times=1
    )
    batch = moto_world.clients.batch
    job = batch.submit_job(jobName="callers-own", jobQueue=moto_world.queue, jobDefinition=arn)
    assert job["ResponseMetadata"]["RetryAttempts"] == 1  # botocore resent it, as it would
    again = batch.register_job_definition(
        jobDefinitionName="callers-own",
        type="container",
        containerProperties={"image": "x", "vcpus": 1, "memory": 128},
    )
    assert again["ResponseMetadata"]["RetryAttempts"] == 1
    sub.close()


@pytest.mark.integration
def test_the_callers_throttled_calls_do_not_slow_pcr_sdk_down(moto_world: MotoWorld) -> None:
    clock = FakeClock()
    governor = RateGovernor.per_second(40, clock=clock, sleep=clock.sleep)
    sub = make(moto_world, clock, governor=governor)
    moto_world.faults.add(service="batch", operation="ListJobs", kind=Fault.THROTTLE, times=1)
    moto_world.clients.batch.list_jobs(jobQueue=moto_world.queue)
    assert governor.throttles == 0
    moto_world.faults.add(service="batch", operation="SubmitJob", kind=Fault.THROTTLE, times=1)
    sub.submit_job({})
    assert governor.throttles == 1
    assert governor.limit == 20  # halved: additive increase, multiplicative decrease
    sub.close()
