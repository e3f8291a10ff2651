"""A batch that several processes share: who deregisters its definition, and when a watcher's
wait ends.

`pcr wait BATCH`, started while `submit_jobs` was still running, waited for the jobs it saw,
exited and deregistered the job definition: the submitter then failed after 73 of 300 jobs
(`Job definition ... does not exist or is inactive`). Now the definition follows the batch's
state in its manifest: each process that may submit keeps a session there; a wait ends when
every session is closed (or stale) and every job finished, the jobs that came after it
attached included; whoever sees that first deregisters, once.

The "other process" here is a second `JobSubmitter` in this process, on its own clock; its
steps run while the watcher sleeps between polls, so the interleaving is the same every run.
`tests/scenarios/local/test_watcher_processes.py` runs two real processes against the local backend.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pcr_sdk import AwsError, JobStatus, JobSubmitter
from pcr_sdk.advanced import Seams
from pcr_sdk.testing import Fault, MotoWorld
from tests.support.fakes import FakeClock
from tests.support.sharing import Calls, active, age, sessions
from tests.support.submitters import attach_submitter, new_submitter

pytestmark = pytest.mark.integration


class Meanwhile:
    """A clock whose pauses between polls (not the short request spacing) run the other
    process's next step: what it does while we wait."""

    def __init__(self, steps: list[Callable[[], object]]) -> None:
        self.clock = FakeClock()
        self.steps: Iterator[Callable[[], object]] = iter(steps)
        self.ran = 0

    def sleep(self, seconds: float) -> None:
        self.clock.sleep(seconds)
        if seconds < 1:
            return
        step = next(self.steps, None)
        if step is not None:
            step()
            self.ran += 1

    @property
    def seams(self) -> Seams:
        return Seams(clock=self.clock, sleep=self.sleep)


def test_a_watcher_never_pulls_the_definition_from_under_a_live_submitter() -> None:
    with MotoWorld(polls_to_finish=1) as world:
        world.script.worker(lambda data: data)
        creator = new_submitter(world)
        creator.submit_jobs([{"n": n} for n in range(3)], array=False)
        later: list[Callable[[], object]] = [
            lambda: creator.submit_jobs([{"n": n} for n in range(3, 6)], array=False),
            lambda: creator.submit_jobs([{"n": n} for n in range(6, 11)]),  # an array
            lambda: creator.submit_job({"n": 11}),
            creator.wait_until_jobs_finished,  # the creator's own end
        ]
        meanwhile = Meanwhile(later)
        watcher = attach_submitter(world, creator.get_batch_id(), seams=meanwhile.seams)
        assert len(watcher.jobs) == 3

        watcher.wait_until_jobs_finished()

        assert meanwhile.ran == len(later)  # every step went through: no BatchClosedError
        assert [job.job_id for job in watcher.jobs] == [job.job_id for job in creator.jobs]
        assert len(watcher.jobs) == 12  # it followed the batch as it grew
        assert all(r.status is JobStatus.SUCCEEDED for r in watcher.get_results())
        assert [json.loads(o or "null")["n"] for o in watcher.get_all_outputs()] == list(range(12))
        assert active(world, creator.get_batch_id()) == []


def test_pcr_submit_then_pcr_wait_leaves_nothing_behind_without_waiting_for_staleness() -> None:
    """`detach()` (what `pcr submit` does) closes the session: the watcher ends as soon as the
    jobs finished, not after the stale delay."""
    with MotoWorld(polls_to_finish=2) as world:
        creator = new_submitter(world)
        creator.submit_jobs([{"n": n} for n in range(4)])
        creator.detach()
        assert active(world, creator.get_batch_id()) == [1]  # kept for the running jobs
        assert creator.closed
        clock = FakeClock()
        watcher = attach_submitter(world, creator.get_batch_id(), clock)
        watcher.wait_until_jobs_finished()
        assert clock.now - 1000.0 < 600  # it did not wait for a session to go stale
        assert active(world, creator.get_batch_id()) == []


def test_a_creator_that_died_counts_as_closed_once_its_heartbeat_is_stale() -> None:
    with MotoWorld(polls_to_finish=1) as world:
        creator = new_submitter(world)
        creator.submit_jobs([{"n": n} for n in range(2)], array=False)
        creator._manifest.flush()
        creator._presence.session._stop.set()  # the process dies: no heartbeat, no close
        clock = FakeClock()
        watcher = attach_submitter(world, creator.get_batch_id(), clock)
        watcher.wait_until_jobs_finished()
        waited = clock.now - 1000.0
        # 10 minutes by the watcher's clock, since it first saw the record unchanged
        assert 600 < waited < 700, waited
        assert active(world, creator.get_batch_id()) == []


def test_a_session_stale_by_s3s_clock_ends_the_batch_at_once() -> None:
    """A batch whose creator died long ago: S3's clock says the record is old."""
    with MotoWorld(polls_to_finish=1) as world:
        creator = new_submitter(world)
        creator.submit_job({"n": 0})
        creator._manifest.flush()
        creator._presence.session._stop.set()
        (record,) = sessions(world, creator)
        age(world, f"{creator.layout.manifest_prefix}{record}", 601)
        clock = FakeClock()
        watcher = attach_submitter(world, creator.get_batch_id(), clock)
        watcher.wait_until_jobs_finished()
        assert clock.now - 1000.0 < 600
        assert active(world, creator.get_batch_id()) == []


def test_a_watcher_that_closes_leaves_the_definition_to_the_live_submitter() -> None:
    with MotoWorld(polls_to_finish=1) as world:
        creator = new_submitter(world)
        creator.submit_job({"n": 0})
        watcher = attach_submitter(world, creator.get_batch_id())
        watcher.close()
        assert active(world, creator.get_batch_id()) == [1]
        creator.submit_job({"n": 1})  # still takes jobs
        creator.wait_until_jobs_finished()
        assert active(world, creator.get_batch_id()) == []


def test_whoever_sees_the_batch_over_first_deregisters_and_the_other_finds_nothing_to_do() -> None:
    with MotoWorld(polls_to_finish=1) as world:
        creator = new_submitter(world)
        creator.submit_jobs([{"n": n} for n in range(3)])
        creator.detach()
        first = attach_submitter(world, creator.get_batch_id())
        second = attach_submitter(world, creator.get_batch_id())
        first.wait_until_jobs_finished()
        assert active(world, creator.get_batch_id()) == []
        calls = Calls(world.clients)
        second.wait_until_jobs_finished()
        assert calls.take()["DeregisterJobDefinition"] == 0  # once, by the first


def test_a_rerun_from_an_attached_process_cleans_up_after_itself() -> None:
    failing = {1}

    def work(data: Any) -> Any:
        if data["n"] in failing:
            raise ValueError("boom")
        return data

    with MotoWorld(polls_to_finish=1) as world:
        world.script.worker(work)
        creator = new_submitter(world)
        creator.submit_jobs([{"n": n} for n in range(3)], array=False)
        creator.wait_until_jobs_finished()
        assert active(world, creator.get_batch_id()) == []
        failing.clear()
        rerunner = attach_submitter(world, creator.get_batch_id())
        watcher = attach_submitter(world, creator.get_batch_id())
        (rerun,) = rerunner.resubmit_failed()
        assert active(world, creator.get_batch_id()) == [2]  # reopened
        watcher.close()  # a watcher's end leaves it to the rerun
        assert active(world, creator.get_batch_id()) == [2]
        rerunner.wait_until_jobs_finished()
        assert active(world, creator.get_batch_id()) == []
        assert rerunner.get_result(rerun).status is JobStatus.SUCCEEDED


def test_the_session_records_are_chunks_without_jobs() -> None:
    with MotoWorld() as world:
        creator = new_submitter(world)
        (opened,) = sessions(world, creator)
        assert opened == f"session-{creator._presence.session.id}.json"
        creator.close()
        names = sessions(world, creator)
        assert names == sorted([opened, opened.replace(".json", "-closed.json")])
        for name in names:
            body = world.clients.s3.get_object(
                Bucket=world.bucket, Key=f"{creator.layout.manifest_prefix}{name}"
            )["Body"].read()
            assert b'"jobs":[],"arrays":[]' in body
            assert body.startswith(b'{"version":2,')


def test_the_heartbeat_rewrites_the_open_record() -> None:
    with MotoWorld() as world:
        creator = new_submitter(world)
        key = f"{creator.layout.manifest_prefix}session-{creator._presence.session.id}.json"
        before = world.clients.s3.head_object(Bucket=world.bucket, Key=key)["LastModified"]
        age(world, key, 60)
        creator._presence.session.beat()
        after = world.clients.s3.head_object(Bucket=world.bucket, Key=key)["LastModified"]
        assert after >= before
        creator.close()
        creator._presence.session.beat()  # closed: nothing is written any more
        assert len(sessions(world, creator)) == 2


def test_detach_deregisters_when_nothing_is_left_to_run() -> None:
    with MotoWorld(polls_to_finish=0) as world:
        creator = new_submitter(world)
        job = creator.submit_job({"n": 0})
        creator.get_result(job)  # known finished
        creator.detach()
        assert active(world, creator.get_batch_id()) == []


def test_a_creator_that_cannot_open_its_session_leaves_nothing_registered() -> None:
    with MotoWorld() as world:
        world.faults.add(service="s3", operation="PutObject", kind=Fault.SERVER_ERROR, times=None)
        with pytest.raises(AwsError):
            JobSubmitter(
                "nosession", world.queue, "img", world.bucket, clients=world.clients,
                seams=Seams(sleep=lambda s: None),
            )  # fmt: skip
        world.faults.clear()
        found = world.clients.batch.describe_job_definitions(status="ACTIVE")
        assert [d["jobDefinitionName"] for d in found["jobDefinitions"]] == []
