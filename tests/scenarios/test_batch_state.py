"""A batch's state through `JobSubmitter` on a MotoWorld: it survives interruption, old batches
and big arrays (the ledger's own rules: `tests/core/batch/test_ledger.py`).

Each test names the defect it pins; each failed on the code before the ledger.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections import Counter
from typing import Any

import pytest

from pcr_sdk import (
    BatchClosedError,
    BatchStatus,
    FailureKind,
    JobResult,
    JobStatus,
    JobSubmitter,
    PollProgress,
)
from pcr_sdk.testing import MotoWorld
from tests.support.fakes import FakeClock
from tests.support.submitters import attach_submitter, new_submitter

pytestmark = [
    pytest.mark.integration,
    pytest.mark.moto_world(polls_to_finish=1),
]  # every test here runs on a MotoWorld


def make(world: MotoWorld, clock: FakeClock | None = None, **kw: Any) -> JobSubmitter:
    return new_submitter(world, clock, **{"name": "ledger", **kw})


def attach(world: MotoWorld, batch_id: str, clock: FakeClock | None = None) -> JobSubmitter:
    return attach_submitter(world, batch_id, clock)


def in_aws(world: MotoWorld, batch_id: str) -> set[str]:
    return {v.job_id for v in world.jobs() if v.job_name == batch_id and ":" not in v.job_id}


class CallCounter:
    def __init__(self, world: MotoWorld) -> None:
        self.calls: Counter[str] = Counter()
        world.clients.batch.meta.events.register("before-call.batch.*", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1


class Recorder:
    """A progress reporter that counts what it is told."""

    def __init__(self) -> None:
        self.failed: Counter[str] = Counter()
        self._lock = threading.Lock()

    def on_progress(self, progress: PollProgress) -> None:
        return None

    def on_job_failed(self, result: JobResult) -> None:
        with self._lock:
            self.failed[result.job_id] += 1


# -- 1. interruption ---------------------------------------------------------------------------


def test_ctrl_c_during_per_job_submission_stops_it_and_loses_nothing(moto_world: MotoWorld) -> None:
    """Defect 1: after a Ctrl-C at job 55 the pool kept submitting all 200; the submitter knew
    0 jobs, the manifest was empty and cancel_on_error cancelled nothing."""
    main = threading.get_ident()
    sent = Counter[str]()
    counting = threading.Lock()  # the pool's threads share the counter: exactly one sees 55

    def interrupt_at_55(**_: Any) -> None:
        with counting:
            sent["n"] += 1
            fire = sent["n"] == 55
        if fire:
            signal.pthread_kill(main, signal.SIGINT)
        # a real SubmitJob waits on the network without the GIL; the in-process mock never does,
        # and four threads that never let go of it can keep the main thread from running its
        # signal handler for a third of a second (all 200 went out then, in about 1 run in 3)
        time.sleep(0.002)

    moto_world.clients.batch.meta.events.register("after-call.batch.SubmitJob", interrupt_at_55)
    sub = make(moto_world, cancel_on_error=True, io_workers=4)
    batch_id = sub.get_batch_id()
    with pytest.raises(KeyboardInterrupt), sub:
        sub.submit_jobs([{"n": i} for i in range(200)], array=False)
    submitted = in_aws(moto_world, batch_id)
    assert 55 <= len(submitted) < 200  # stopped at once, in-flight calls finished
    assert {job.job_id for job in sub.jobs} == submitted  # each recorded as it returned
    again = attach(moto_world, batch_id)
    assert {job.job_id for job in again.jobs} == submitted  # the manifest has them all
    ids = sorted(submitted)  # over 100 when the Ctrl-C lands late on a busy machine
    states = {
        v["jobId"]: v
        for first in range(0, len(ids), 100)
        for v in moto_world.clients.batch.describe_jobs(jobs=ids[first : first + 100])["jobs"]
    }
    assert set(states) == submitted
    assert all(s["status"] == "FAILED" for s in states.values())  # cancel_on_error got them
    assert sub._registry.deregistered


def test_close_racing_submits_accepts_none_after_it_and_records_all_before(
    moto_world: MotoWorld,
) -> None:
    """Defect 1: submit_job racing close() returned ids after close returned, and left jobs
    out of the manifest."""
    sub = make(moto_world)
    returned: list[str] = []
    refused = Counter[str]()
    closed = threading.Event()
    late: list[str] = []

    def keep_submitting() -> None:
        while True:
            try:
                job_id = sub.submit_job({})
            except BatchClosedError:
                refused["n"] += 1
                return
            (late if closed.is_set() else returned).append(job_id)

    threads = [threading.Thread(target=keep_submitting) for _ in range(3)]
    for thread in threads:
        thread.start()
    while len(returned) < 10:
        threading.Event().wait(0.001)
    sub.close()
    closed.set()
    for thread in threads:
        thread.join(timeout=30)
    assert refused["n"] == 3
    assert late == []
    aws = in_aws(moto_world, sub.get_batch_id())
    assert set(returned) == aws
    assert {job.job_id for job in attach(moto_world, sub.get_batch_id()).jobs} == aws


# -- 2. expired jobs ----------------------------------------------------------------------------


def hide_from_describe(world: MotoWorld, hidden: set[str]) -> None:
    """Make DescribeJobs leave `hidden` out, as AWS does for jobs it no longer keeps."""

    def drop(parsed: dict[str, Any], **_: Any) -> None:
        parsed["jobs"] = [j for j in parsed.get("jobs", []) if j["jobId"] not in hidden]

    world.clients.batch.meta.events.register("after-call.batch.DescribeJobs", drop)


def test_a_wait_on_an_old_batch_ends_with_expired_jobs(moto_world: MotoWorld) -> None:
    """Defect 2: after attach, a job AWS Batch no longer returns stayed unfinished for ever."""
    moto_world.script.worker(lambda data: {"n": data["n"]})
    sub = make(moto_world)
    old = sub.submit_job({"n": 0})
    kept = sub.submit_job({"n": 1})
    array = sub.submit_jobs([{"n": 2}, {"n": 3}])
    sub._manifest.flush()
    # the old job ran long ago: its output is in S3, AWS Batch has forgotten it
    moto_world.clients.s3.put_object(
        Bucket=moto_world.bucket, Key=f"{sub.get_job_directory(old)}/output.json", Body=b'{"n": 0}'
    )
    hide_from_describe(moto_world, {old, array[0].split(":")[0]})
    clock = FakeClock()
    again = attach(moto_world, sub.get_batch_id(), clock)
    again.wait_until_jobs_finished(timeout=3600)  # returns: nothing hangs
    results = {r.job_id: r for r in again.get_results()}
    assert results[old].status is JobStatus.EXPIRED
    assert results[old].failure is FailureKind.EXPIRED
    assert "no longer" in (results[old].status_reason or "")
    assert results[kept].status is JobStatus.SUCCEEDED
    assert {results[c].status for c in array} == {JobStatus.EXPIRED}
    outputs = again.get_all_outputs()
    assert json.loads(outputs[0] or "null") == {"n": 0}  # what S3 holds of an expired job
    assert clock.now - 1000 < 3600


# -- 3. bulk results ------------------------------------------------------------------------------


def test_results_after_a_wait_cost_no_more_calls(moto_world: MotoWorld) -> None:
    """Defect 3: get_result on each succeeded array child made one DescribeJobs per child."""
    sub = make(moto_world)
    children = sub.submit_jobs([{"n": i} for i in range(60)])
    sub.wait_until_jobs_finished()
    counter = CallCounter(moto_world)
    assert {sub.get_result(c).status for c in children} == {JobStatus.SUCCEEDED}
    assert len(sub.get_results()) == 60
    assert sum(counter.calls.values()) == 0


def test_results_after_attach_cost_a_few_calls_per_100_jobs(moto_world: MotoWorld) -> None:
    moto_world.script.fail_where(lambda view: view.index in (7, 300), exit_code=3)
    sub = make(moto_world)
    sub.submit_jobs([{"n": i} for i in range(500)])
    plain = sub.submit_jobs([{"n": i} for i in range(3)], array=False)
    sub.wait_until_jobs_finished()
    again = attach(moto_world, sub.get_batch_id())
    counter = CallCounter(moto_world)
    results = again.get_results()
    assert len(results) == 503
    failed = [r for r in results if r.status is JobStatus.FAILED]
    assert [r.index for r in failed] == [7, 300]
    assert all(r.exit_code == 3 for r in failed)
    # the parent and the plain jobs (1 call), SUCCEEDED and FAILED children (1 page each on
    # moto), the failed children's details (1 call)
    assert counter.calls == Counter({"DescribeJobs": 2, "ListJobs": 2})
    assert again.get_results() == results
    assert sum(counter.calls.values()) == 4  # known results are not asked for again
    assert plain[0] in {r.job_id for r in results}


# -- 4. outputs of failed jobs ----------------------------------------------------------------


def test_a_failed_jobs_stale_output_is_not_returned(moto_world: MotoWorld) -> None:
    """Defect 4: get_all_outputs returned output.json of a job whose final status is FAILED."""
    moto_world.script.worker(lambda data: {"n": data["n"]})
    moto_world.script.fail(index=1, exit_code=137)
    sub = make(moto_world)
    ok, crashed = sub.submit_job({"n": 0}), sub.submit_job({"n": 1})
    stale = f"{sub.get_job_directory(crashed)}/output.json"
    moto_world.clients.s3.put_object(Bucket=moto_world.bucket, Key=stale, Body=b'{"partial": true}')
    sub.wait_until_jobs_finished()
    assert sub.get_all_outputs() == ['{"n":0}', None]
    assert sub.get_output(crashed) == '{"partial": true}'  # still there, for debugging
    again = attach(moto_world, sub.get_batch_id())
    assert again.get_all_outputs() == ['{"n":0}', None]  # after attach: status asked first
    assert ok


# -- 5. cancel reports each job's own end ------------------------------------------------------


def test_cancel_relabels_only_what_it_stopped(moto_world: MotoWorld) -> None:
    """Defect 5: a job that had FAILED on its own was reported TERMINATED after cancel()."""
    moto_world.script.fail(index=0, exit_code=2)
    moto_world.script.polls(index=0, n=0)
    moto_world.script.fail(index=2, exit_code=5)
    moto_world.script.polls(index=2, n=0)
    sub = make(moto_world)
    own = sub.submit_job({})
    children = sub.submit_jobs([{}, {}, {}])
    running = sub.submit_job({})
    sub.get_results()  # learns the two failures before cancelling
    results = sub.cancel("stop now", timeout=3600)
    assert own not in results  # finished before cancel: not one this call stopped
    final = {r.job_id: r for r in sub.get_results()}
    assert final[own].failure is FailureKind.NON_ZERO_EXIT
    assert final[children[1]].failure is FailureKind.NON_ZERO_EXIT  # index 2 failed itself
    assert final[children[0]].failure is FailureKind.TERMINATED
    assert final[running].failure is FailureKind.TERMINATED


# -- 6. callbacks once ----------------------------------------------------------------------


def test_two_concurrent_waits_report_each_failure_once(moto_world: MotoWorld) -> None:
    """Defect 6: two concurrent waits reported each failed job to on_job_failed twice."""
    moto_world.script.fail_where(lambda view: (view.index or 0) % 2 == 0, exit_code=1)
    recorder = Recorder()
    sub = make(moto_world, progress=recorder, polling_interval_seconds=0)
    calls = Counter[str]()
    ids = [sub.submit_job({}, callback=lambda: calls.update(["cb"])) for _ in range(6)]
    both_polling = threading.Barrier(2)
    first_polls = Counter[str]()

    def meet(**_: Any) -> None:  # both waits make their first DescribeJobs together
        first_polls["n"] += 1
        if first_polls["n"] <= 2:
            both_polling.wait(timeout=10)

    moto_world.clients.batch.meta.events.register("before-call.batch.DescribeJobs", meet)
    threads = [threading.Thread(target=sub.wait_until_jobs_finished) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert recorder.failed == Counter({ids[0]: 1, ids[2]: 1, ids[4]: 1})
    assert calls["cb"] == 6


# -- the read-only view ----------------------------------------------------------------------


def test_batch_status_reads_a_batch_without_its_bucket(moto_world: MotoWorld) -> None:
    moto_world.script.fail(index=1, exit_code=4)
    sub = make(moto_world)
    sub.submit_job({})
    sub.submit_jobs([{}, {}, {}])
    sub.wait_until_jobs_finished()
    before = [
        k["Key"]
        for k in moto_world.clients.s3.list_objects_v2(Bucket=moto_world.bucket)["Contents"]
    ]
    view = BatchStatus.fetch(
        sub.get_batch_id(), job_queue=moto_world.queue, clients=moto_world.clients
    )
    assert [r.index for r in view.results] == [0, 1, 2, 3]
    assert view.counts == {JobStatus.SUCCEEDED: 3, JobStatus.FAILED: 1}
    assert view.finished
    assert view.definition is not None
    assert view.definition.image == "img"
    assert not view.definition_active
    after = [
        k["Key"]
        for k in moto_world.clients.s3.list_objects_v2(Bucket=moto_world.bucket)["Contents"]
    ]
    assert after == before  # nothing written
