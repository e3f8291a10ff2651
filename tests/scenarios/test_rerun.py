"""`resubmit_failed` on MotoWorld: reruns in place, after attach, with dependencies, arrays,
interruptions, a lagging ListJobs, expired jobs, and nothing to do."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from pcr_sdk import (
    BatchStatus,
    FailureKind,
    JobResult,
    JobStatus,
    JobSubmitter,
    OutputNotFoundError,
    PcrInputError,
    RetryPolicy,
    SubmittedJob,
)
from pcr_sdk._private.batch import rerun as rerun_module
from pcr_sdk._private.wire.facts import TAG_ATTEMPT, TAG_INDEX, TIMEOUT_REASON
from pcr_sdk._private.wire.layout import (
    ENV_ARRAY_BASE_INDEX,
    ENV_ARRAY_INPUTS_KEY,
    ENV_WORKER_CONTRACT,
)
from pcr_sdk._private.wire.packing import unpack_indexed
from pcr_sdk.testing import MotoWorld
from tests.support.calls import Calls
from tests.support.fakes import FakeClock
from tests.support.submitters import attach_submitter, new_submitter

pytestmark = [pytest.mark.integration, pytest.mark.subprocess]  # MotoWorld, LocalBackend


class Flaky:
    """The simulated container: fails for the inputs in `broken`, else echoes `n`."""

    def __init__(self, *broken: int) -> None:
        self.broken = set(broken)
        self.ran: Counter[int] = Counter()

    def __call__(self, data: Any) -> dict[str, int]:
        self.ran[data["n"]] += 1
        if data["n"] in self.broken:
            raise ValueError(f"input {data['n']} is broken")
        return {"n": data["n"]}


def outputs(sub: JobSubmitter) -> list[int | None]:
    return [None if text is None else json.loads(text)["n"] for text in sub.get_all_outputs()]


def active_revisions(world: MotoWorld, batch_id: str) -> list[int]:
    found = world.session.client("batch").describe_job_definitions(jobDefinitionName=batch_id)
    return sorted(d["revision"] for d in found["jobDefinitions"] if d["status"] == "ACTIVE")


def revisions(world: MotoWorld, batch_id: str) -> list[Any]:
    found = world.session.client("batch").describe_job_definitions(jobDefinitionName=batch_id)
    return sorted(found["jobDefinitions"], key=lambda d: d["revision"])


def put_output(world: MotoWorld, sub: JobSubmitter, index: int, text: str) -> None:
    world.clients.s3.put_object(Bucket=world.bucket, Key=sub.layout.output_key(index), Body=text)


def test_plain_jobs_rerun_in_place_after_attach(moto_world: MotoWorld) -> None:
    clock = FakeClock()
    flaky = Flaky(1, 3)
    moto_world.script.worker(flaky)
    first = new_submitter(moto_world, clock)
    ids = [first.submit_job({"n": n}) for n in range(4)]
    first.wait_until_jobs_finished()
    assert outputs(first) == [0, None, 2, None]
    batch_id = first.get_batch_id()
    put_output(moto_world, first, 1, '{"n": -1}')  # a stale output of the failed job 1
    flaky.broken.clear()
    calls = Calls(moto_world.clients)
    again = attach_submitter(moto_world, batch_id, clock)  # as a new process would
    assert again.closed
    assert active_revisions(moto_world, batch_id) == []
    calls.take()
    new = again.resubmit_failed()
    # the calls a rerun of two plain jobs costs (attach learned their states); first the
    # lease and the session (PutObject), what other processes did (ListObjectsV2,
    # ListJobs) and which revision is ACTIVE (DescribeJobDefinitions)
    assert calls.take() == {
        "RegisterJobDefinition": 1, "PutObject": 4, "DeleteObjects": 1, "SubmitJob": 2,
        "ListObjectsV2": 1, "ListJobs": 1, "DescribeJobDefinitions": 1,
    }  # fmt: skip
    with pytest.raises(OutputNotFoundError):
        again.get_output(new[0])  # removed before its rerun: the status decides
    # the two reruns go out concurrently: in either order
    sent = sorted(moto_world.submitted()[-2:], key=lambda c: int(c.tags[TAG_INDEX]))
    assert [c.tags[TAG_INDEX] for c in sent] == ["1", "3"]
    assert all(c.tags[TAG_ATTEMPT] == "2" for c in sent)
    assert [c.environment for c in sent] == [moto_world.submitted()[i].environment for i in (1, 3)]
    assert active_revisions(moto_world, batch_id) == [2]  # reopened: a new revision
    assert all(c.job_definition.endswith(":2") for c in sent)
    assert [(j.index, j.attempt) for j in again.jobs] == [(0, 1), (1, 2), (2, 1), (3, 2)]
    assert [again.get_result(job_id).index for job_id in new] == [1, 3]

    again.wait_until_jobs_finished()
    assert outputs(again) == [0, 1, 2, 3]
    assert active_revisions(moto_world, batch_id) == []  # deregistered when the wait ended
    assert flaky.ran == {0: 1, 1: 2, 2: 1, 3: 2}  # a SUCCEEDED job never reran
    spec = [(d["containerProperties"], d["retryStrategy"]) for d in revisions(moto_world, batch_id)]
    assert spec[0] == spec[1]

    third = attach_submitter(moto_world, batch_id, clock)
    assert [j.job_id for j in third.jobs] == [ids[0], new[0], ids[2], new[1]]
    assert outputs(third) == [0, 1, 2, 3]
    calls.take()
    assert third.resubmit_failed() == []  # nothing failed: nothing happens
    assert set(calls.take()) <= {"DescribeJobs"}
    assert third.closed
    assert len(revisions(moto_world, batch_id)) == 2


def test_a_dependency_chain_reruns_after_the_rerun_it_depends_on(moto_world: MotoWorld) -> None:
    clock = FakeClock()
    flaky = Flaky(1)
    moto_world.script.worker(flaky)
    sub = new_submitter(moto_world, clock)
    ok = sub.submit_job({"n": 0})
    root = sub.submit_job({"n": 1}, [ok])
    middle = sub.submit_job({"n": 2}, [root, ok])
    leaf = sub.submit_job({"n": 3}, [middle])
    sub.wait_until_jobs_finished()
    results = sub.get_results()
    assert [r.failure for r in results] == [
        None, FailureKind.NON_ZERO_EXIT, FailureKind.DEPENDENCY_FAILED,
        FailureKind.DEPENDENCY_FAILED,
    ]  # fmt: skip
    flaky.broken.clear()
    new_root, new_middle, new_leaf = sub.resubmit_failed()

    sent = {c.job_id: c for c in moto_world.submitted()[-3:]}
    assert [sent[j].depends_on for j in (new_root, new_middle, new_leaf)] == [
        [],  # `ok` SUCCEEDED: dropped (AWS may have forgotten it)
        [new_root],
        [new_middle],
    ]
    sub.wait_until_jobs_finished()
    assert outputs(sub) == [0, 1, 2, 3]
    assert sub.get_result(leaf).status is JobStatus.FAILED  # the old attempt keeps its state


def test_kinds_choose_the_failures_and_their_dependents_follow(moto_world: MotoWorld) -> None:
    clock = FakeClock()
    moto_world.script.worker(Flaky())
    moto_world.script.fail(index=0, exit_code=None, reason=TIMEOUT_REASON)
    moto_world.script.fail(index=2, exit_code=4)
    sub = new_submitter(moto_world, clock)
    slow = sub.submit_job({"n": 0})
    sub.submit_job({"n": 1}, [slow])
    bad = sub.submit_job({"n": 2})
    sub.submit_job({"n": 3}, [bad])
    sub.wait_until_jobs_finished()
    moto_world.script.reset()
    moto_world.script.worker(Flaky())
    calls = Calls(moto_world.clients)
    for wrong in ([], ["dependency-failed"], ["no-such-kind"], "timeout", 7):
        with pytest.raises(PcrInputError):
            sub.resubmit_failed(kinds=wrong)  # type: ignore[arg-type]
    assert not calls.take()  # refused before any call

    again = sub.resubmit_failed(kinds={FailureKind.TIMEOUT})
    assert [sub.get_result(j).index for j in again] == [0, 1]  # the timeout and its dependent
    assert moto_world.submitted()[-1].depends_on == [again[0]]
    sub.wait_until_jobs_finished()
    assert outputs(sub) == [0, 1, None, None]
    rest = sub.resubmit_failed(kinds=[FailureKind.NON_ZERO_EXIT])
    assert [sub.get_result(j).index for j in rest] == [2, 3]
    sub.wait_until_jobs_finished()
    assert outputs(sub) == [0, 1, 2, 3]


def test_array_children_rerun_as_one_array_with_an_index_table(moto_world: MotoWorld) -> None:
    clock = FakeClock()
    flaky = Flaky(1, 3, 4, 12)
    moto_world.script.worker(flaky)
    first = new_submitter(moto_world, clock)
    children = first.submit_jobs([{"n": n} for n in range(6)])
    first.submit_jobs([{"n": n} for n in range(10, 14)])
    first.wait_until_jobs_finished()
    flaky.broken.clear()
    again = attach_submitter(moto_world, first.get_batch_id(), clock)
    before = len(moto_world.submitted())
    calls = Calls(moto_world.clients)
    new = again.resubmit_failed()

    # one SubmitJob for the failed children of both arrays; each pack read once; the
    # children's states (unknown after attach) as bulk results learn them: the parents
    # described, ListJobs of their SUCCEEDED and FAILED children, the failed described
    assert calls.take() == {
        "DescribeJobs": 3, "ListJobs": 4 + 1, "RegisterJobDefinition": 1, "PutObject": 3 + 2,
        "DeleteObjects": 1, "GetObject": 2, "SubmitJob": 1,
        "ListObjectsV2": 1, "DescribeJobDefinitions": 1,
    }  # fmt: skip  # + the lease, the session, what others did, the ACTIVE revision
    (array,) = moto_world.submitted()[before:]
    assert array.params["arrayProperties"] == {"size": 4}
    assert array.environment[ENV_WORKER_CONTRACT] == "2"
    assert ENV_ARRAY_BASE_INDEX not in array.environment  # an old worker fails, not misreads
    assert TAG_INDEX not in array.tags
    assert array.tags[TAG_ATTEMPT] == "2"
    key = array.environment[ENV_ARRAY_INPUTS_KEY]
    packed = moto_world.clients.s3.get_object(Bucket=moto_world.bucket, Key=key)["Body"].read()
    assert [(i, json.loads(p)) for i, p in unpack_indexed(packed)] == [
        (1, {"n": 1}), (3, {"n": 3}), (4, {"n": 4}), (8, {"n": 12}),
    ]  # fmt: skip
    assert new == [f"{array.job_id}:{i}" for i in range(4)]
    assert children[1] != new[0]

    again.wait_until_jobs_finished()
    assert outputs(again) == [0, 1, 2, 3, 4, 5, 10, 11, 12, 13]
    third = attach_submitter(moto_world, first.get_batch_id(), clock)
    assert [j.job_id for j in third.jobs if j.attempt == 2] == new
    assert outputs(third) == outputs(again)
    view = BatchStatus.fetch(
        first.get_batch_id(), job_queue=moto_world.queue, clients=moto_world.clients
    )
    assert [j.job_id for j in view.jobs] == [j.job_id for j in third.jobs]  # tables read
    assert view.counts == {JobStatus.SUCCEEDED: 10}


def test_a_lone_failed_array_child_reruns_as_a_plain_job(moto_world: MotoWorld) -> None:
    clock = FakeClock()
    flaky = Flaky(1)
    moto_world.script.worker(flaky)
    sub = new_submitter(moto_world, clock)
    sub.submit_jobs([{"n": n} for n in range(3)])
    sub.wait_until_jobs_finished()
    flaky.broken.clear()
    (new,) = sub.resubmit_failed()
    alone = moto_world.submitted()[-1]
    assert alone.job_id == new
    assert "arrayProperties" not in alone.params
    assert alone.tags[TAG_INDEX] == "1"
    assert sub._store.get_input(1) == {"n": 1}  # its input, written as its config.json
    sub.wait_until_jobs_finished()
    assert outputs(sub) == [0, 1, 2]


def test_a_rerun_interrupted_after_submit_job_is_found_on_attach(moto_world: MotoWorld) -> None:
    """Ctrl-C right after the rerun array's SubmitJob: not in the manifest, found by its tags
    (and its index table); a rerun job lost from the manifest likewise."""
    clock = FakeClock()
    flaky = Flaky(0, 2, 3)
    moto_world.script.worker(flaky)
    first = new_submitter(moto_world, clock)
    first.submit_job({"n": 0})
    first.submit_jobs([{"n": n} for n in range(1, 4)])
    first.wait_until_jobs_finished()
    flaky.broken.clear()
    crashing = attach_submitter(moto_world, first.get_batch_id(), clock)
    crashing._manifest.add = lambda job: None  # type: ignore[method-assign]

    def interrupt(**_: object) -> None:
        if len(moto_world.submitted()) == 3:  # the array's (the first of the rerun)
            raise KeyboardInterrupt

    events = moto_world.clients.batch.meta.events
    events.register("after-call.batch.SubmitJob", interrupt, unique_id="rerun-crash")
    with pytest.raises(KeyboardInterrupt):
        crashing.resubmit_failed()
    events.unregister("after-call.batch.SubmitJob", unique_id="rerun-crash")
    array_id = moto_world.submitted()[2].job_id
    assert array_id is not None
    assert [j.index for j in crashing.jobs if j.attempt == 2] == []  # never recorded

    found = attach_submitter(moto_world, first.get_batch_id(), clock)
    assert [(j.job_id, j.index, j.attempt) for j in found.jobs if j.attempt > 1] == [
        (f"{array_id}:0", 2, 2), (f"{array_id}:1", 3, 2),
    ]  # fmt: skip
    assert found._manifest is not crashing._manifest
    lease = found.rerun_lease()  # the crashed process holds it: break it (pcr retry does)
    assert lease is not None
    assert found.break_rerun_lease(lease)
    again = found.resubmit_failed()  # job 0 still failed; the array's children are current
    assert [found.get_result(j).index for j in again] == [0]
    assert [j.attempt for j in found.jobs] == [3, 1, 2, 2]  # attempt 2 was reserved
    found.wait_until_jobs_finished()
    assert outputs(found) == [0, 1, 2, 3]
    durable = attach_submitter(moto_world, first.get_batch_id(), clock)
    assert [j.job_id for j in durable.jobs] == [j.job_id for j in found.jobs]


def test_a_lagging_list_jobs_never_gives_one_attempt_twice(moto_world: MotoWorld) -> None:
    """Attach while ListJobs does not show a rerun that missed the manifest: the next rerun
    takes a higher attempt, so the highest attempt at each index is still one job."""
    clock = FakeClock()
    flaky = Flaky(1)
    moto_world.script.worker(flaky)
    first = new_submitter(moto_world, clock)
    first.submit_jobs([{"n": 0}, {"n": 1}], array=False)
    first.wait_until_jobs_finished()
    flaky.broken.clear()
    crashing = attach_submitter(moto_world, first.get_batch_id(), clock)
    crashing._manifest.add = lambda job: None  # type: ignore[method-assign]
    (lost,) = crashing.resubmit_failed()
    moto_world.faults.delay_listing(answers=2)  # attach and the rerun's own look both miss it
    blind = attach_submitter(moto_world, first.get_batch_id(), clock)
    assert blind.jobs[1].attempt == 1  # the rerun is not listed yet
    lease = blind.rerun_lease()  # the crashed process holds it: break it (pcr retry does)
    assert lease is not None
    assert blind.break_rerun_lease(lease)
    (second,) = blind.resubmit_failed()
    assert blind.jobs[1] == SubmittedJob(second, 1, (), None, attempt=3)
    blind.wait_until_jobs_finished()
    later = attach_submitter(moto_world, first.get_batch_id(), clock)
    assert later.jobs[1].job_id == second  # attempt 3 beats the lost attempt 2
    assert later.get_result(lost).index == 1
    assert outputs(later) == [0, 1]


def test_expired_jobs_rerun_only_without_an_output(moto_world: MotoWorld) -> None:
    clock = FakeClock()
    flaky = Flaky(1)
    moto_world.script.worker(flaky)
    sub = new_submitter(moto_world, clock)
    kept, lost = sub.submit_jobs([{"n": 0}, {"n": 1}], array=False)
    sub.wait_until_jobs_finished()
    forgotten = {kept, lost}

    def forget(parsed: dict[str, Any], **_: object) -> None:
        parsed["jobs"] = [j for j in parsed.get("jobs", []) if j["jobId"] not in forgotten]

    flaky.broken.clear()
    moto_world.clients.batch.meta.events.register("after-call.batch.DescribeJobs", forget)
    again = attach_submitter(moto_world, sub.get_batch_id(), clock)  # the manifest knows them
    new = again.resubmit_failed()
    assert [again.get_result(j).index for j in new] == [1]  # job 0 has its output
    assert [r.status for r in again.get_results([kept, lost])] == [JobStatus.EXPIRED] * 2
    again.wait_until_jobs_finished()
    assert outputs(again) == [0, 1]


def test_a_reopened_batch_keeps_its_spec_and_close_deregisters_it(moto_world: MotoWorld) -> None:
    clock = FakeClock()
    moto_world.script.worker(Flaky(0))
    sub = new_submitter(
        moto_world, clock, environment={"MODE": "fast"}, tags={"team": "a"}, vcpus=2, gpus=0,
        retry=RetryPolicy.spot_reclaims(attempts=3), memory_in_mb=2048,
    )  # fmt: skip
    sub.submit_job({"n": 0})
    sub.wait_until_jobs_finished()
    spec = sub.spec
    moto_world.script.reset()
    moto_world.script.worker(Flaky())
    again = attach_submitter(moto_world, sub.get_batch_id(), clock)
    assert again.spec == spec  # read back whole: environment, tags, retry policy
    again.resubmit_failed()
    first, second = revisions(moto_world, sub.get_batch_id())
    for field in ("containerProperties", "retryStrategy", "timeout", "tags"):
        assert first[field] == second[field], field
    again.close()  # without a wait: deregistered all the same
    assert active_revisions(moto_world, sub.get_batch_id()) == []
    with pytest.raises(Exception, match="closed"):
        again.submit_job({"n": 1})


class Reports:
    """A progress reporter that keeps the failures it is told about."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    def on_progress(self, progress: object) -> None:
        return None

    def on_job_failed(self, result: JobResult) -> None:
        self.failed.append(result.job_id)


def test_a_job_that_is_rerun_is_settled_once_callback_and_report_included(
    moto_world: MotoWorld,
) -> None:
    clock = FakeClock()
    flaky = Flaky(0)
    reports = Reports()
    moto_world.script.worker(flaky)
    sub = new_submitter(moto_world, clock, progress=reports)
    fired: Counter[str] = Counter()
    first = sub.submit_job({"n": 0}, callback=lambda: fired.update(["first"]))
    assert sub.get_result(first).status is JobStatus.FAILED  # known, not settled by a wait
    flaky.broken.clear()
    (rerun,) = sub.resubmit_failed()
    assert fired == {"first": 1}  # the rerun made it final: its callback ran here
    assert reports.failed == [first]
    sub.wait_until_jobs_finished()
    assert fired == {"first": 1}
    assert reports.failed == [first]
    assert [j.job_id for j in sub.jobs] == [rerun]


def test_failed_children_rerun_as_one_array_per_max_array_size(
    moto_world: MotoWorld,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With AWS's limit at 3 (10,000 in truth), 7 failed children: arrays of 3 and 3, then 1
    plain job."""
    monkeypatch.setattr(rerun_module, "MAX_ARRAY_SIZE", 3)
    clock = FakeClock()
    flaky = Flaky(*range(7))
    moto_world.script.worker(flaky)
    sub = new_submitter(moto_world, clock)
    sub.submit_jobs([{"n": n} for n in range(8)])
    sub.wait_until_jobs_finished()
    flaky.broken.clear()
    before = len(moto_world.submitted())
    new = sub.resubmit_failed()
    sizes = [
        c.params.get("arrayProperties", {}).get("size") for c in moto_world.submitted()[before:]
    ]
    assert sizes == [3, 3, None]
    assert [sub.get_result(job_id).index for job_id in new] == list(range(7))
    sub.wait_until_jobs_finished()
    assert outputs(sub) == list(range(8))
