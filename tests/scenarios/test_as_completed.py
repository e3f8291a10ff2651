"""`JobSubmitter.as_completed` on a MotoWorld: order, outputs, callbacks, costs, breaking out."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pcr_sdk import (
    CredentialsExpiredError,
    JobResult,
    JobStatus,
    PcrInputError,
    PollProgress,
    ThrottledError,
    WaitTimeoutError,
)
from pcr_sdk.testing import Fault, JobView, MotoWorld
from tests.support.calls import Calls
from tests.support.fakes import FakeClock
from tests.support.submitters import attach_submitter, new_submitter

pytestmark = pytest.mark.integration  # every test here runs on a MotoWorld


def square(data: Any) -> dict[str, int]:
    return {"sq": data["n"] ** 2}


class Recorder:
    """A progress reporter that keeps what it is told."""

    def __init__(self) -> None:
        self.failed: list[str] = []
        self.cycles: list[PollProgress] = []

    def on_progress(self, progress: PollProgress) -> None:
        self.cycles.append(progress)

    def on_job_failed(self, result: JobResult) -> None:
        self.failed.append(result.job_id)


def counting(fired: Counter[str], key: str) -> Callable[[], None]:
    """A callback that counts its calls under `key`."""
    return lambda: fired.update([key])


def in_wave(wave: int) -> Callable[[JobView], bool]:
    """Selects the array children `100 * wave` to `100 * wave + 99`."""
    return lambda view: view.index is not None and view.index // 100 == wave


def output_of(result: JobResult) -> Any:
    return None if result.output is None else json.loads(result.output)


def test_results_come_in_finishing_order_with_their_outputs(moto_world: MotoWorld) -> None:
    moto_world.script.worker(square)
    polls = [5, 1, 3, 0, 2]  # job i finishes on describe polls[i] + 1
    for index, n in enumerate(polls):
        moto_world.script.polls(index=index, n=n)
    moto_world.script.fail(index=2, exit_code=9)
    progress = Recorder()
    submitter = new_submitter(moto_world, progress=progress)
    ids = [submitter.submit_job({"n": i}) for i in range(5)]

    results = list(submitter.as_completed())

    assert [r.index for r in results] == [3, 1, 4, 2, 0]
    assert [r.job_id for r in results] == [ids[i] for i in (3, 1, 4, 2, 0)]
    assert [output_of(r) for r in results] == [
        {"sq": 9},
        {"sq": 1},
        {"sq": 16},
        None,
        {"sq": 0},
    ]
    failed = results[3]
    assert (failed.status, failed.exit_code, failed.succeeded) == (JobStatus.FAILED, 9, False)
    assert progress.failed == [ids[2]]  # reported once, from as_completed
    # the output is filled by as_completed only
    assert submitter.get_result(ids[0]).output is None
    assert submitter.get_results()[0].output is None
    # the batch is not closed: more jobs may follow
    assert not submitter.closed
    later = submitter.submit_job({"n": 7})
    submitter.wait_until_jobs_finished()
    assert json.loads(submitter.get_output(later)) == {"sq": 49}
    assert progress.failed == [ids[2]]


def test_breaking_out_leaves_the_batch_running_and_waitable(moto_world: MotoWorld) -> None:
    moto_world.script.worker(square)
    for index in range(6):
        moto_world.script.polls(index=index, n=index)
    calls = Calls(moto_world.clients)
    submitter = new_submitter(moto_world)
    fired: Counter[str] = Counter()
    ids = [submitter.submit_job({"n": i}, callback=counting(fired, str(i))) for i in range(6)]

    seen: list[int] = []
    for result in submitter.as_completed():
        assert fired[str(result.index)] == 1, "a job's callback runs before its result comes"
        seen.append(result.index)
        if len(seen) == 2:
            break

    assert seen == [0, 1]
    assert fired == Counter(["0", "1"])
    made = calls.take()
    assert "TerminateJob" not in made
    assert "DeregisterJobDefinition" not in made
    assert not submitter.closed
    assert {j.job_id: j.index for j in submitter.jobs} == {ids[i]: i for i in range(6)}

    submitter.wait_until_jobs_finished()
    assert fired == Counter(str(i) for i in range(6)), "each callback exactly once"
    assert submitter._registry.deregistered
    assert [json.loads(o or "null") for o in submitter.get_all_outputs()] == [
        {"sq": i * i} for i in range(6)
    ]


def test_a_second_pass_yields_every_job_again_without_firing_callbacks_again(
    moto_world: MotoWorld,
) -> None:
    moto_world.script.worker(square)
    moto_world.script.polls(index=2, n=4)
    submitter = new_submitter(moto_world)
    fired: Counter[str] = Counter()
    for i in range(3):
        submitter.submit_job({"n": i}, callback=counting(fired, str(i)))
    for result in submitter.as_completed():
        assert result.index in (0, 1)
        break

    again = [r.index for r in submitter.as_completed()]
    assert sorted(again) == [0, 1, 2]
    assert again[-1] == 2
    assert fired == Counter(["0", "1", "2"])
    calls = Calls(moto_world.clients)
    assert sorted(r.index for r in submitter.as_completed()) == [0, 1, 2]
    made = calls.take()
    assert made["DescribeJobs"] == 0, "finished jobs are not asked about again"
    assert made["GetObject"] == 3
    assert fired == Counter(["0", "1", "2"])
    submitter.close()


def test_a_timeout_raises_like_wait_and_keeps_what_came(moto_world: MotoWorld) -> None:
    moto_world.script.worker(square)
    moto_world.script.polls(index=1, n=1000)
    clock = FakeClock()
    submitter = new_submitter(moto_world, clock)
    ids = submitter.submit_jobs([{"n": 0}, {"n": 1}], array=False)
    got: list[int] = []

    def collect() -> None:
        got.extend(result.index for result in submitter.as_completed(timeout=100))

    start = clock()
    with pytest.raises(WaitTimeoutError) as info:
        collect()
    assert got == [0]
    assert list(info.value.unfinished) == [ids[1]]
    assert 100 <= clock() - start < 140
    assert not submitter.closed
    with pytest.raises(PcrInputError):
        submitter.as_completed(timeout=-1)  # refused at the call, before any poll
    submitter.close()


@pytest.mark.slow
def test_an_array_of_1000_children_costs_what_wait_costs_plus_a_listjobs_page_per_100() -> None:
    """Children finish in waves of 100 (child i after 1 + i // 100 polls). No worker runs (it
    would cost two GetObject and a PutObject per child); children 0..9 get an output."""

    def run(stream: bool) -> tuple[Counter[str], list[JobResult]]:
        with MotoWorld() as world:
            for wave in range(10):
                world.script.polls_where(in_wave(wave), n=1 + wave)
            world.script.fail(index=250, exit_code=3)
            submitter = new_submitter(world)
            submitter.submit_jobs([{"n": i} for i in range(1000)])
            for index in range(10):
                key = submitter.layout.output_key(index)
                world.clients.s3.put_object(Bucket=world.bucket, Key=key, Body=b'{"sq": 1}')
            calls = Calls(world.clients)
            if stream:
                results = list(submitter.as_completed())
            else:
                submitter.wait_until_jobs_finished()
                results = []
            made = calls.take()
            submitter.close()
            return made, results

    waited, _ = run(stream=False)
    streamed, results = run(stream=True)

    assert sorted(r.index for r in results) == list(range(1000))  # each child once
    waves = [r.index // 100 for r in results]
    assert waves == sorted(waves), "a wave comes only after the waves before it"
    assert [output_of(r) for r in results if r.index < 10] == [{"sq": 1}] * 10
    assert all(r.output is None for r in results if r.index >= 10)
    (failed,) = [r for r in results if r.status is JobStatus.FAILED]
    assert (failed.index, failed.exit_code) == (250, 3)
    # the costs: the same DescribeJobs as a wait, one ListJobs page per wave of 100 at most
    assert streamed["DescribeJobs"] == waited["DescribeJobs"] == 12  # 11 polls + failed details
    assert waited["ListJobs"] == 2  # the FAILED children: once they appear, and at the end
    assert streamed["ListJobs"] - waited["ListJobs"] <= math.ceil(1000 / 100)
    assert streamed["ListJobs"] == 2 + 9  # SUCCEEDED children in 9 waves; the 10th ends the array
    assert streamed["GetObject"] == 999  # every output but the failed child's
    assert streamed["PutObject"] == waited["PutObject"] - 1  # the wait closed this session too


def test_an_array_child_that_failed_comes_with_its_details(moto_world: MotoWorld) -> None:
    moto_world.script.worker(square)
    moto_world.script.polls(index=4, n=6)
    moto_world.script.fail(index=1, exit_code=5, log_lines=["boom"])
    progress = Recorder()
    submitter = new_submitter(moto_world, progress=progress)
    ids = submitter.submit_jobs([{"n": i} for i in range(5)])
    results = {r.index: r for r in submitter.as_completed()}
    assert set(results) == set(range(5))
    assert results[1].status is JobStatus.FAILED
    assert results[1].exit_code == 5
    assert results[1].log_stream_name is not None
    assert progress.failed == [ids[1]]
    assert [output_of(results[i]) for i in (0, 2, 3, 4)] == [
        {"sq": 0}, {"sq": 4}, {"sq": 9}, {"sq": 16},
    ]  # fmt: skip
    submitter.close()


def test_an_attached_submitter_streams_what_another_process_submitted(
    moto_world: MotoWorld,
) -> None:
    moto_world.script.worker(square)
    first = new_submitter(moto_world)
    first.submit_jobs([{"n": i} for i in range(4)])
    first.submit_job({"n": 10})
    first._manifest.flush()
    again = attach_submitter(moto_world, first.get_batch_id())
    results = list(again.as_completed())
    assert sorted((r.index, output_of(r)["sq"]) for r in results) == [
        (0, 0), (1, 1), (2, 4), (3, 9), (4, 100),
    ]  # fmt: skip
    again.close()


def test_aws_errors_while_iterating_are_pcr_errors(moto_world: MotoWorld) -> None:
    moto_world.script.worker(square)
    submitter = new_submitter(moto_world)
    submitter.submit_job({"n": 1})
    moto_world.faults.add(service="batch", operation="DescribeJobs", kind=Fault.THROTTLE, times=8)
    with pytest.raises(ThrottledError):
        list(submitter.as_completed())
    # nothing was lost: the next call picks up where it failed
    assert [output_of(r) for r in submitter.as_completed()] == [{"sq": 1}]
    submitter.close()


def test_as_completed_names_the_batch_when_credentials_expire_and_closes_cleanly(
    moto_world: MotoWorld,
) -> None:
    """Was `guard_iterator`'s unit test: the iterator maps the error where the call is made and
    adds the batch's resume hint; a broken-off iterator leaves the batch to a later call."""
    moto_world.script.worker(square)
    _expire_then_resume(moto_world)


def _expire_then_resume(world: MotoWorld) -> None:
    submitter = new_submitter(world)
    submitter.submit_job({"n": 1})

    def expired(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ExpiredToken", "Message": "x"}}, "DescribeJobs")

    world.clients.batch.meta.events.register_first("before-call.batch.DescribeJobs", expired)
    items = submitter.as_completed()
    with pytest.raises(CredentialsExpiredError, match=r"JobSubmitter\.attach") as info:
        next(items)
    assert info.value.batch_id == submitter.get_batch_id()
    assert isinstance(info.value.__cause__, CredentialsExpiredError)
    assert isinstance(info.value.__cause__.__cause__, ClientError)
    world.clients.batch.meta.events.unregister("before-call.batch.DescribeJobs", expired)
    assert [output_of(r) for r in submitter.as_completed()] == [{"sq": 1}]
    submitter.close()
