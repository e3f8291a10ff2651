"""Regressions of "The core, part 1": settings first, hooks that touch nothing else, lost
answers, one exception boundary, expiring credentials, one governor, one home for AWS facts.

Each test names the defect it pins; each failed on the code before the redesign.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.retries.standard
import pytest
from botocore.exceptions import ClientError

from pcr_sdk import (
    AwsConnectionError,
    CredentialsExpiredError,
    InvalidJobSpecError,
    JobSubmitter,
    JsonValue,
    ManifestError,
    PackError,
    PcrError,
    PcrInputError,
    RateGovernor,
    SilentProgress,
)
from pcr_sdk._private.wire.facts import THROTTLING_ERROR_CODES
from pcr_sdk.testing import Fault, MotoWorld
from pcr_sdk.worker import JobContext
from tests.core_support import new_submitter
from tests.fakes import FakeClock
from tests.test_hardened_inputs import CallLog

pytestmark = pytest.mark.integration  # every test here runs on a MotoWorld


@pytest.fixture
def world() -> Iterator[MotoWorld]:
    with MotoWorld(polls_to_finish=1) as w:
        yield w


def make(world: MotoWorld, clock: FakeClock | None = None, **kw: Any) -> JobSubmitter:
    return new_submitter(world, clock, **{"polling_interval_seconds": 60, **kw})


def active_definitions(world: MotoWorld) -> list[str]:
    found = world.clients.batch.describe_job_definitions(status="ACTIVE")["jobDefinitions"]
    return [d["jobDefinitionName"] for d in found]


# -- 1. configuration first ----------------------------------------------------------------------

LATE_OR_RAW: list[tuple[str, dict[str, Any]]] = [
    ("polling interval negative", {"polling_interval_seconds": -1}),
    ("request throttling negative", {"request_throttling_milliseconds": -5}),
    ("io_workers zero", {"io_workers": 0}),
    ("timeout_in_hours NaN", {"timeout_in_hours": math.nan}),
    ("timeout_in_hours infinite", {"timeout_in_hours": math.inf}),
    ("polling interval NaN", {"polling_interval_seconds": math.nan}),
    ("request throttling infinite", {"request_throttling_milliseconds": math.inf}),
    ("region with spaces", {"aws_region": "eu central 1"}),
    ("region empty", {"aws_region": ""}),
    ("tag key over 128 characters", {"tags": {"k" * 129: "v"}}),
    ("tag value over 256 characters", {"tags": {"k": "v" * 257}}),
    ("expiry NaN", {"expiry_seconds": math.nan}),
    ("bucket owner not an account id", {"expected_bucket_owner": "me"}),
]


@pytest.mark.parametrize(("row", "kwargs"), LATE_OR_RAW, ids=[r[0] for r in LATE_OR_RAW])
def test_a_bad_setting_fails_before_any_call_and_leaves_nothing(
    world: MotoWorld, row: str, kwargs: dict[str, Any]
) -> None:
    """Defect 1: these raised after RegisterJobDefinition (orphaning it), or raised raw."""
    log = CallLog(world.clients)
    with pytest.raises(PcrInputError):
        make(world, **kwargs)
    assert log.calls == [], row
    assert active_definitions(world) == []


def test_no_region_at_all_is_an_input_error(
    world: MotoWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defect 1: botocore's NoRegionError escaped."""
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    with pytest.raises(PcrInputError, match="no AWS region"):
        JobSubmitter("r", world.queue, "img", world.bucket, session=boto3.Session())


def test_bad_inputs_are_refused_before_an_index_is_reserved(world: MotoWorld) -> None:
    """Defect 1: deep nesting raised RecursionError; a lone surrogate UnicodeEncodeError after
    an index was reserved (the next job got index 1)."""
    sub = make(world)
    deep: JsonValue = 0
    for _ in range(5000):
        deep = [deep]
    log = CallLog(world.clients)
    for bad in (deep, {"text": "\ud800"}, {"x": math.nan}):
        with pytest.raises(InvalidJobSpecError):
            sub.submit_job(bad)
    with pytest.raises(InvalidJobSpecError, match="input 1"):
        sub.submit_jobs([{"ok": 1}, {"x": math.inf}], array=False)
    assert log.calls == []
    job_id = sub.submit_job({"ok": True})
    assert sub.jobs[0].job_id == job_id
    assert sub.jobs[0].index == 0
    sub.close()


def test_a_wait_with_a_nan_timeout_is_refused(world: MotoWorld) -> None:
    """Defect 1: timeout=nan never timed out."""
    sub = make(world)
    sub.submit_job({})
    log = CallLog(world.clients)
    with pytest.raises(PcrInputError):
        sub.wait_until_jobs_finished(timeout=math.nan)
    assert log.calls == []
    sub.close()


# -- 2. hooks that touch nothing else --------------------------------------------------------


def test_the_callers_own_calls_on_a_shared_client_keep_botocores_retries(
    world: MotoWorld,
) -> None:
    """Defect 2: after JobSubmitter(clients=...), the caller's own submit_job on that client
    raised pcr-sdk's private AmbiguousCall on one HTTP 500 instead of being retried."""
    sub = make(world)
    sub.submit_job({"mine": True})  # pcr-sdk's handlers are installed on the client now
    arn = world.register_job_definition("callers-own")
    world.faults.add(service="batch", operation="SubmitJob", kind=Fault.SERVER_ERROR, times=1)
    world.faults.add(
        service="batch", operation="RegisterJobDefinition", kind=Fault.SERVER_ERROR, times=1
    )
    batch = world.clients.batch
    job = batch.submit_job(jobName="callers-own", jobQueue=world.queue, jobDefinition=arn)
    assert job["ResponseMetadata"]["RetryAttempts"] == 1  # botocore resent it, as it would
    again = batch.register_job_definition(
        jobDefinitionName="callers-own",
        type="container",
        containerProperties={"image": "x", "vcpus": 1, "memory": 128},
    )
    assert again["ResponseMetadata"]["RetryAttempts"] == 1
    sub.close()


def test_the_callers_throttled_calls_do_not_slow_pcr_sdk_down(world: MotoWorld) -> None:
    clock = FakeClock()
    governor = RateGovernor.per_second(40, clock=clock, sleep=clock.sleep)
    sub = make(world, clock, governor=governor)
    world.faults.add(service="batch", operation="ListJobs", kind=Fault.THROTTLE, times=1)
    world.clients.batch.list_jobs(jobQueue=world.queue)
    assert governor.throttles == 0
    world.faults.add(service="batch", operation="SubmitJob", kind=Fault.THROTTLE, times=1)
    sub.submit_job({})
    assert governor.throttles == 1
    assert governor.limit == 20  # halved: additive increase, multiplicative decrease
    sub.close()


# -- 3. lost answers ------------------------------------------------------------------------


def test_lost_answers_back_off_with_jitter_before_sending_again(world: MotoWorld) -> None:
    """Defect 3: four immediate resends (no backoff) failed a submit within 20 ms."""
    clock = FakeClock()
    sub = make(world, clock, random_source=lambda: 0.5, lost_answer_settle_seconds=3.0)
    world.faults.add(service="batch", operation="SubmitJob", kind=Fault.SERVER_ERROR, times=4)
    clock.sleeps.clear()
    sub.submit_job({})
    assert [s for s in clock.sleeps if s not in (3.0, 0.0)] == [1.0, 2.0, 4.0, 8.0]
    assert clock.sleeps.count(3.0) == 4  # a settle delay before each second look
    assert len([v for v in world.jobs() if v.job_name == sub.get_batch_id()]) == 1
    sub.close()


def test_listing_lag_does_not_turn_a_lost_answer_into_a_duplicate(world: MotoWorld) -> None:
    """Defect 3: ListJobs is eventually consistent; one look then a resend made a duplicate."""
    sub = make(world)
    lag = world.faults.delay_listing(answers=1)
    world.faults.add(service="batch", operation="SubmitJob", kind=Fault.LOST_RESPONSE, times=1)
    job_id = sub.submit_job({"n": 1})
    mine = [v for v in world.jobs() if v.job_name == sub.get_batch_id()]
    assert [v.job_id for v in mine] == [job_id]
    assert lag.hidden >= 1  # the first look really missed it
    sub.close()


# -- 4. one exception boundary ---------------------------------------------------------------


def test_logs_maps_connection_errors(world: MotoWorld) -> None:
    """Defect 4: logs() let EndpointConnectionError escape."""
    sub = make(world, polling_interval_seconds=0)
    world.script.fail(index=0, exit_code=2, log_lines=["boom"])
    job_id = sub.submit_job({})
    sub.wait_until_jobs_finished()
    world.faults.add(service="logs", kind=Fault.CONNECTION_ERROR, times=None)
    with pytest.raises(AwsConnectionError):
        sub.logs(job_id)


def test_the_worker_maps_s3_errors(world: MotoWorld) -> None:
    """Defect 4: the worker raised raw botocore errors."""
    env = {
        "S3_JOB_BUCKET": world.bucket, "S3_JOB_CONFIG_KEY": "jobs/b_x/000000/config.json",
        "S3_JOB_PREFIX": "jobs/b_x/000000", "S3_OUTPUT_OJBECT_KEY": "jobs/b_x/000000/output.json",
        "BATCH_ID": "b_x",
    }  # fmt: skip
    context = JobContext.from_env(env, s3=world.clients.s3)
    world.faults.add(service="s3", kind=Fault.CONNECTION_ERROR, times=None)
    with pytest.raises(AwsConnectionError):
        context.load_input()
    with pytest.raises(AwsConnectionError):
        context.save_output({"ok": 1})
    world.faults.clear()
    with pytest.raises(PcrError):
        context.load_input()  # no config.json: an AwsError, not a raw ClientError


def test_pack_errors_have_the_root() -> None:
    """Defect 4: PackError was a plain ValueError."""
    assert issubclass(PackError, PcrError)


def test_attach_skips_console_folders_and_names_a_broken_chunk(world: MotoWorld) -> None:
    """Defect 4: a zero-byte object under manifest/ made attach raise JSONDecodeError."""
    sub = make(world)
    job_id = sub.submit_job({})
    sub._manifest.flush()
    prefix = sub.layout.manifest_prefix
    world.clients.s3.put_object(Bucket=world.bucket, Key=prefix, Body=b"")
    world.clients.s3.put_object(Bucket=world.bucket, Key=f"{prefix}folder/", Body=b"")
    attached = JobSubmitter.attach(
        sub.get_batch_id(), job_queue=world.queue, job_bucket=world.bucket,
        clients=world.clients, progress=SilentProgress(),
    )  # fmt: skip
    assert [j.job_id for j in attached.jobs] == [job_id]
    world.clients.s3.put_object(Bucket=world.bucket, Key=f"{prefix}junk.json", Body=b"{oops")
    with pytest.raises(ManifestError) as raised:
        JobSubmitter.attach(
            sub.get_batch_id(), job_queue=world.queue, job_bucket=world.bucket,
            clients=world.clients, progress=SilentProgress(),
        )  # fmt: skip
    assert raised.value.key == f"{prefix}junk.json"
    sub.close()


# -- 5. expiring credentials -------------------------------------------------------------------


def test_expired_credentials_mid_wait_say_how_to_resume(world: MotoWorld) -> None:
    """Defect 5: an expired token surfaced as a generic AwsError mid-wait."""
    sub = make(world)
    sub.submit_job({})

    def expired(**_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "ExpiredTokenException", "Message": "token expired"}},
            "DescribeJobs",
        )

    world.clients.batch.meta.events.register_first("before-call.batch.DescribeJobs", expired)
    with pytest.raises(CredentialsExpiredError) as raised:
        sub.wait_until_jobs_finished()
    message = str(raised.value)
    assert raised.value.batch_id == sub.get_batch_id()
    assert "JobSubmitter.attach" in message
    assert f"pcr wait {sub.get_batch_id()}" in message
    world.clients.batch.meta.events.unregister("before-call.batch.DescribeJobs", expired)


# -- one governor, explicitly; one home for AWS facts -----------------------------------------


def test_submitters_share_one_governor_per_endpoint_unless_given_one(world: MotoWorld) -> None:
    a = JobSubmitter("a", world.queue, "img", world.bucket, clients=world.clients,
                     progress=SilentProgress())  # fmt: skip
    b = JobSubmitter("b", world.queue, "img", world.bucket, clients=world.clients,
                     progress=SilentProgress())  # fmt: skip
    own = RateGovernor.per_second(5)
    c = JobSubmitter("c", world.queue, "img", world.bucket, clients=world.clients,
                     progress=SilentProgress(), governor=own)  # fmt: skip
    assert a._submitter.governor is b._submitter.governor
    assert c._submitter.governor is own
    for sub in (a, b, c):
        sub.close()


def test_the_governor_halves_on_throttling_and_climbs_back() -> None:
    clock = FakeClock()
    governor = RateGovernor(40, 1.0, clock=clock, sleep=clock.sleep)
    governor.on_throttle()
    governor.on_throttle()  # within the same window: once only
    assert governor.limit == 20
    clock.advance(1.0)
    governor.on_throttle()
    assert governor.limit == 10
    clock.advance(5.0)
    assert governor.limit == 15  # one call per window back
    clock.advance(100.0)
    assert governor.limit == 40
    waits = [governor.acquire() for _ in range(41)]
    assert waits[:40] == [0.0] * 40
    assert waits[40] > 0


def test_throttling_codes_are_botocores() -> None:
    checker: Any = botocore.retries.standard.ThrottledRetryableChecker
    assert frozenset(checker._THROTTLED_ERROR_CODES) == THROTTLING_ERROR_CODES
