"""Submitters on a MotoWorld with a fake clock and a fast private governor (no real sleeping)."""

from __future__ import annotations

from typing import Any

from pcr_sdk import JobSubmitter, RateGovernor, SilentProgress
from pcr_sdk.advanced import Seams
from pcr_sdk.testing import MotoWorld
from tests.fakes import FakeClock


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
