"""Submitters for tests: on a MotoWorld with a fake clock and a fast private governor (no real
sleeping), or offline (clients that never send, the definition's registration stubbed)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from botocore.stub import Stubber

from pcr_sdk import JobSubmitter, RateGovernor, SilentProgress
from pcr_sdk.advanced import Seams
from tests.support.fakes import FakeClock, NoCalls

if TYPE_CHECKING:
    from pcr_sdk.testing import MotoWorld


def _options(world: MotoWorld, clock: FakeClock | None, overrides: dict[str, Any]) -> Any:
    clock = clock or FakeClock()
    random_source = overrides.pop("random_source", None)
    seams = Seams(clock=clock, sleep=clock.sleep, heartbeat=False)
    if random_source is not None:
        seams = Seams(clock=clock, sleep=clock.sleep, random_source=random_source, heartbeat=False)
    options: dict[str, Any] = {
        "clients": world.clients, "seams": seams,
        "progress": SilentProgress(), "polling_interval_seconds": 30,
        "governor": RateGovernor.per_second(1000, clock=clock, sleep=clock.sleep),
    }  # fmt: skip
    return {**options, **overrides}


def new_submitter(world: MotoWorld, clock: FakeClock | None = None, **kw: Any) -> JobSubmitter:
    """A JobSubmitter on `world`; keywords override the defaults."""
    options = _options(world, clock, kw)
    name = options.pop("name", "core")
    return JobSubmitter(name, world.queue, "img", world.bucket, **options)


def attach_submitter(
    world: MotoWorld, batch_id: str, clock: FakeClock | None = None, **kw: Any
) -> JobSubmitter:
    """`JobSubmitter.attach` to `batch_id` on `world`, like `new_submitter`."""
    return JobSubmitter.attach(
        batch_id, job_queue=world.queue, job_bucket=world.bucket, **_options(world, clock, kw)
    )


@contextmanager
def offline_submitter(name: str = "offline", **kw: Any) -> Iterator[tuple[JobSubmitter, NoCalls]]:
    """A JobSubmitter on clients that never send, its RegisterJobDefinition and the PutObject
    of its session answered by botocore's `Stubber`: inside the block any other Batch or S3
    call fails (no answer stubbed), and any Logs request raises `RequestSent`."""
    no_calls = NoCalls()
    clock = FakeClock()
    options: dict[str, Any] = {
        "clients": no_calls.clients,
        "seams": Seams(clock=clock, sleep=clock.sleep, heartbeat=False),
        "progress": SilentProgress(), **kw,
    }  # fmt: skip
    with Stubber(no_calls.clients.batch) as stubbed, Stubber(no_calls.clients.s3) as s3:
        arn = f"arn:aws:batch:eu-central-1:123456789012:job-definition/{name}:1"
        stubbed.add_response(
            "register_job_definition",
            {"jobDefinitionName": name, "jobDefinitionArn": arn, "revision": 1},
        )
        s3.add_response("put_object", {"ETag": '"session"'})
        yield JobSubmitter(name, "q", "img", "bkt", **options), no_calls
