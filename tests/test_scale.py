"""Array fan-out, packed inputs, concurrent per-job submission, polling cost."""

from __future__ import annotations

import json
import sys
from collections import Counter
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pcr_sdk import AwsClients, JobStatus, JobSubmitter, SilentProgress, ThrottledError
from pcr_sdk._private.batch import submitting as submission
from pcr_sdk._private.wire.packing import PackError, pack, read_entry, unpack
from pcr_sdk.advanced import Seams
from pcr_sdk.testing import Fault, MotoWorld
from pcr_sdk.worker import JobContext
from tests.fakes import FakeClock


def square(data: Any) -> dict[str, int]:
    return {"sq": data["n"] ** 2}


class Calls:
    """Counts the API calls made through a set of clients, per operation."""

    def __init__(self, clients: AwsClients) -> None:
        self.counts: Counter[str] = Counter()
        for client in (clients.batch, clients.s3):
            client.meta.events.register("before-call.*.*", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.counts[model.name] += 1

    def take(self) -> Counter[str]:
        taken, self.counts = self.counts, Counter()
        return taken


def make(world: MotoWorld, clock: FakeClock, **kw: Any) -> JobSubmitter:
    return JobSubmitter(
        "scale", world.queue, "img", world.bucket, clients=world.clients,
        seams=Seams(clock=clock, sleep=clock.sleep), progress=SilentProgress(), **kw,
    )  # fmt: skip


@given(st.lists(st.binary(max_size=40), max_size=30), st.data())
def test_pack_any_entry_reads_back_with_two_ranged_reads(
    payloads: list[bytes], data: st.DataObject
) -> None:
    packed = pack(payloads)
    assert unpack(packed) == payloads
    if payloads:
        i = data.draw(st.integers(min_value=0, max_value=len(payloads) - 1))
        reads: list[tuple[int, int]] = []

        def read_range(first: int, last: int) -> bytes:
            reads.append((first, last))
            return packed[first : last + 1]

        assert read_entry(read_range, i) == payloads[i]
        assert len(reads) <= 2


def test_pack_rejects_what_is_not_a_pack() -> None:
    with pytest.raises(PackError):
        unpack(b"NOTAPACK" + bytes(8))
    with pytest.raises(PackError):
        read_entry(lambda a, b: pack([b"x"])[a : b + 1], 5)


@pytest.mark.integration
def test_array_fan_out_costs_o1_calls_and_children_work_like_jobs() -> None:
    clock = FakeClock()
    with MotoWorld(polls_to_finish=2) as world:
        world.script.worker(square)
        world.script.fail(index=3, exit_code=7, reason="Essential container in task exited")
        calls = Calls(world.clients)
        submitter = make(world, clock)
        calls.take()
        ids = submitter.submit_jobs([{"n": i} for i in range(6)])
        # the indexes reserved ahead, the packed inputs, the manifest
        assert calls.take() == {"PutObject": 3, "SubmitJob": 1}
        parent = ids[0].split(":")[0]
        assert ids == [f"{parent}:{i}" for i in range(6)]
        (sent,) = world.submitted()
        assert sent.params["arrayProperties"] == {"size": 6}
        assert sent.environment["PCR_ARRAY_BASE_INDEX"] == "0"

        submitter.wait_until_jobs_finished()
        waited = calls.take()
        # one DescribeJobs per cycle for the whole array, ListJobs only once failures appeared
        assert waited["ListJobs"] == 1
        # one DescribeJobs per cycle (the sleeps of 60 s; the rest is throttling) + one for the
        # failed child's details
        assert waited["DescribeJobs"] == clock.sleeps.count(60) + 1
        outputs = submitter.get_all_outputs()
        assert [None if o is None else json.loads(o) for o in outputs] == [
            {"sq": 0}, {"sq": 1}, {"sq": 4}, None, {"sq": 16}, {"sq": 25},
        ]  # fmt: skip
        failed = submitter.get_result(ids[3])
        assert (failed.status, failed.exit_code, failed.index) == (JobStatus.FAILED, 7, 3)
        assert submitter.get_result(ids[4]).status is JobStatus.SUCCEEDED
        assert submitter.get_job_directory(ids[5]).endswith("/000005")


@pytest.mark.integration
def test_arrays_are_cut_at_the_size_limit_and_indexes_run_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(submission, "MAX_ARRAY_SIZE", 3)
    with MotoWorld() as world:
        world.script.worker(square)
        submitter = make(world, FakeClock())
        first = submitter.submit_job({"n": 100})
        ids = submitter.submit_jobs([{"n": i} for i in range(7)])
        sizes = [c.params.get("arrayProperties", {}).get("size") for c in world.submitted()]
        assert sizes == [None, 3, 3, None]  # the plain job, two arrays, a last single job
        bases = [c.environment.get("PCR_ARRAY_BASE_INDEX") for c in world.submitted()]
        assert bases == [None, "1", "4", None]
        assert [j.index for j in submitter.jobs] == list(range(8))
        assert submitter.jobs[0].job_id == first
        submitter.wait_until_jobs_finished()
        outputs = [json.loads(o or "null") for o in submitter.get_all_outputs()]
        assert outputs == [{"sq": 10000}] + [{"sq": i * i} for i in range(7)]
        assert len(ids) == 7


@pytest.mark.integration
def test_per_job_mode_is_ordered_and_concurrent_and_keeps_what_went_out() -> None:
    with MotoWorld() as world:
        world.script.worker(square)
        submitter = make(world, FakeClock(), io_workers=4)
        ids = submitter.submit_jobs([{"n": i} for i in range(20)], array=False)
        assert [j.job_id for j in submitter.jobs] == ids
        assert [c.environment["S3_JOB_PREFIX"][-6:] for c in world.submitted()] != []
        assert sorted(int(c.environment["S3_JOB_PREFIX"][-6:]) for c in world.submitted()) == list(
            range(20)
        )
        submitter.wait_until_jobs_finished()
        assert [json.loads(o or "null") for o in submitter.get_all_outputs()] == [
            {"sq": i * i} for i in range(20)
        ]


@pytest.mark.integration
def test_a_failed_submit_in_per_job_mode_stops_the_rest() -> None:
    """The first job exhausts its retries: no queued job starts after it, the error is raised."""
    with MotoWorld() as world:
        submitter = make(world, FakeClock(), io_workers=1)
        world.faults.add(service="batch", operation="SubmitJob", kind=Fault.THROTTLE, times=8)
        with pytest.raises(ThrottledError):
            submitter.submit_jobs([{"n": i} for i in range(4)], array=False)
        assert submitter.jobs == ()
        assert len(world.submitted()) == 1  # one call (8 attempts), then nothing more
        assert not [v for v in world.jobs() if v.job_name == submitter.get_batch_id()]


@pytest.mark.integration
def test_dependencies_on_a_whole_array() -> None:
    with MotoWorld() as world:
        submitter = make(world, FakeClock())
        children = submitter.submit_jobs([{"n": i} for i in range(3)])
        parent = children[0].split(":")[0]
        after = submitter.submit_job({"n": 9}, [parent])
        assert world.submitted()[-1].depends_on == [parent]
        submitter.wait_until_jobs_finished()
        assert submitter.get_result(after).status is JobStatus.SUCCEEDED


@pytest.mark.integration
def test_worker_resolves_an_array_child_from_its_environment() -> None:
    with MotoWorld() as world:
        submitter = make(world, FakeClock())
        submitter.submit_jobs([{"n": i} for i in range(5)])
        env = {**world.submitted()[0].environment, "AWS_BATCH_JOB_ARRAY_INDEX": "3"}
        context = JobContext.from_env(env, s3=world.clients.s3)
        assert context.index == 3
        assert context.load_input() == {"n": 3}
        assert context.output_key == f"jobs/{submitter.get_batch_id()}/000003/output.json"
        submitter.close()


@pytest.mark.slow
def test_benchmark_script_runs_and_counts_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench.py"
    spec = importlib.util.spec_from_file_location("pcr_bench", path)
    assert spec is not None
    assert spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "pcr_bench", bench)  # dataclasses look their module up
    spec.loader.exec_module(bench)
    results = bench.run_workloads(12, 0.0)
    by_key = {(p.workload, p.name): p for p in results}
    assert by_key[("submit_jobs(array=True)", "submit")].total_calls <= 5
    assert by_key[("reference", "submit")].total_calls == 24
    # + the indexes reserved ahead and the manifest chunk
    assert by_key[("submit_jobs(array=False)", "submit")].total_calls == 24 + 2
    assert bench.tracking_memory(1000) < 5
    calls = bench.array_result_calls(400, failed_every=100)
    assert calls.failed == 4
    assert sum(calls.after_wait.values()) == 0  # all results after a wait: nothing more
    assert calls.after_attach == {"DescribeJobs": 2, "ListJobs": 2}


@pytest.mark.slow
def test_local_benchmark_runs_every_variant_interleaved(monkeypatch: pytest.MonkeyPatch) -> None:
    """`make bench`'s local engine vs process pool comparison, run tiny (no timing asserted)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "local_bench.py"
    spec = importlib.util.spec_from_file_location("pcr_local_bench", path)
    assert spec is not None
    assert spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "pcr_local_bench", bench)
    spec.loader.exec_module(bench)
    result = bench.compare(jobs=3, repeats=2, parallel=1)
    assert {name: len(times) for name, times in result.seconds.items()} == {
        bench.POOL: 2,
        bench.ENGINE: 2,
        bench.ENGINE_HTTP: 2,
    }
    printed: list[str] = []
    bench.report(result, printed.append)
    assert [line.split()[0] for line in printed[2:5]] == ["process", "local", "local"]
    assert printed[3].endswith("x")  # the engine's ratio to the pool
    added = bench.overhead(attempts=3, repeats=2)
    assert (len(added.supervised), len(added.direct)) == (6, 6)
    printed.clear()
    bench.report_overhead(added, printed.append)
    assert printed[-1].split()[:3] == ["added", "per", "attempt"]
