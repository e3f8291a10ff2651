"""One rerun at a time: two processes calling `resubmit_failed()` together both
reran the same indexes as attempt 2. A lease in the bucket, taken with S3's conditional
writes, lets one of them rerun; the other gets a typed error naming the holder and when the
lease runs out (by S3's clock). A lease whose holder died goes stale by S3's clock, and
`pcr retry --break-lease` breaks it after asking.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from pcr_sdk import JobSubmitter, RerunLeaseHeldError
from pcr_sdk.cli._app import app
from pcr_sdk.cli._runtime import Runtime
from pcr_sdk.testing import MotoWorld
from tests.support.aws_view import bury
from tests.support.fakes import FakeClock
from tests.support.sharing import age
from tests.support.submitters import attach_submitter, new_submitter

pytestmark = pytest.mark.integration


def failing_batch(world: MotoWorld, broken: set[int]) -> JobSubmitter:
    """A finished batch of 4 jobs whose inputs in `broken` failed."""

    def work(data: Any) -> dict[str, int]:
        if data["n"] in broken:
            raise ValueError("broken")
        return {"n": data["n"]}

    world.script.worker(work)
    creator = new_submitter(world)
    creator.submit_jobs([{"n": n} for n in range(4)], array=False)
    creator.wait_until_jobs_finished()
    return creator


def test_a_second_rerun_meanwhile_is_refused_naming_the_holder_and_the_expiry() -> None:
    with MotoWorld(polls_to_finish=3) as world:
        broken = {1, 2}
        creator = failing_batch(world, broken)
        batch_id = creator.get_batch_id()
        broken.clear()
        other = attach_submitter(world, batch_id)
        jobs_before = len(world.jobs())

        assert len(creator.resubmit_failed()) == 2  # takes the lease, holds it while it runs
        with pytest.raises(RerunLeaseHeldError) as refused:
            other.resubmit_failed()

        lease = creator.rerun_lease()
        assert lease is not None
        assert lease.in_force
        err = refused.value
        assert err.holder == lease.holder
        assert creator._presence.session.id in err.holder
        assert err.expires_at == lease.expires_at
        assert f"{lease.expires_at:%Y-%m-%d %H:%M:%S} UTC (S3's clock)" in str(err)
        assert "--break-lease" in str(err)
        assert len(world.jobs()) == jobs_before + 2  # the refused rerun sent nothing

        creator.wait_until_jobs_finished()  # the holder ends: the lease is released
        released = creator.rerun_lease()
        assert released is not None
        assert not released.held
        assert other.resubmit_failed() == []  # its turn: nothing failed any more


def test_a_dead_holders_lease_runs_out_by_s3s_clock_not_the_readers() -> None:
    with MotoWorld(polls_to_finish=3) as world:
        broken = {1}
        creator = failing_batch(world, broken)
        batch_id = creator.get_batch_id()
        clock = FakeClock()
        other = attach_submitter(world, batch_id, clock)  # it saw index 1 fail
        assert len(creator.resubmit_failed()) == 1  # attempt 2 fails again: broken stays
        with pytest.raises(RerunLeaseHeldError):
            other.resubmit_failed()
        bury(world, creator)  # its process died: no renewal, 10 minutes by S3's clock
        lease = other.rerun_lease()
        assert lease is not None
        assert lease.held
        assert lease.expired
        creator_gone = world.jobs()
        other.wait_until_jobs_finished()  # attempt 2 fails
        broken.clear()
        assert len(other.resubmit_failed()) == 1  # it takes the stale lease over
        assert clock.now - 1000.0 < 600  # without waiting on its own clock
        assert len(world.jobs()) == len(creator_gone) + 1


def retry(world: MotoWorld, batch_id: str, answer: str) -> Result:
    clock = FakeClock()
    runtime = Runtime(aws_clients=lambda region: world.clients, clock=clock, sleep=clock.sleep)
    where = ["--queue", world.queue, "--bucket", world.bucket]
    return CliRunner().invoke(
        app, ["retry", batch_id, "--break-lease", *where], obj=runtime, input=answer
    )


@pytest.mark.parametrize("stale", [True, False])
def test_pcr_retry_break_lease_asks_first(stale: bool) -> None:
    with MotoWorld(polls_to_finish=3) as world:
        creator = failing_batch(world, {1})
        batch_id = creator.get_batch_id()
        assert len(creator.resubmit_failed()) == 1
        if stale:
            age(world, creator.layout.lease_key, 601)
        holder = creator._presence.session.id

        declined = retry(world, batch_id, "n\n")
        assert declined.exit_code == 1, declined.stderr
        assert holder in declined.stderr
        still = creator.rerun_lease()
        assert still is not None
        assert still.held

        broke = retry(world, batch_id, "y\n")
        assert "broke the rerun lease" in broke.stderr, broke.stderr
        lease = creator.rerun_lease()
        assert lease is not None
        # broken, then taken by this command for its own reruns (if any were left to run)
        assert not lease.held or holder not in lease.holder


def test_pcr_status_with_the_bucket_shows_who_holds_the_lease_until_when() -> None:
    with MotoWorld(polls_to_finish=3) as world:
        creator = failing_batch(world, {1})
        batch_id = creator.get_batch_id()
        where = ["--queue", world.queue, "--bucket", world.bucket]
        runtime = Runtime(aws_clients=lambda region: world.clients)
        before = CliRunner().invoke(app, ["status", batch_id, *where], obj=runtime)
        assert "rerun lease: not held" in before.stderr, before.stderr
        assert "rerun_lease" not in before.stdout

        assert len(creator.resubmit_failed()) == 1
        held = CliRunner().invoke(app, ["status", batch_id, *where], obj=runtime)
        assert held.exit_code == 0, held.stderr
        session = creator._presence.session.id
        lease = creator.rerun_lease()
        assert lease is not None
        assert f"rerun lease: held by {lease.holder}" in " ".join(held.stderr.split())
        line = json.loads(held.stdout)
        assert session in line["rerun_lease"]["holder"]
        assert line["rerun_lease"]["in_force"] is True
