"""pcr-sdk against the seed's algorithm, side by side in one run (`make bench`).

Both talk to a `MotoWorld` in-process (pcr-sdk's engine for Batch, moto for S3) through the
same clients, with a simulated network round trip on every API call (default 20 ms, slept in a
`before-call` hook: threads overlap it like real I/O). Printed: wall time per phase, API calls
per operation, jobs per second, and ours/reference ratios. Also the memory pcr-sdk needs to
track 100,000 jobs, and the local engine's throughput beside a plain process pool
(`local_bench`). Absolute times on shared machines are noise; read the ratios.
"""

from __future__ import annotations

import argparse
import gc
import sys
import threading
import time
import tracemalloc
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

from botocore.config import Config
from botocore.hooks import HierarchicalEmitter
from botocore.model import ServiceId

sys.path.insert(0, str(Path(__file__).resolve().parent))

import local_bench
from seed_reference import SeedJobSubmitter

from pcr_sdk import AwsClients, JobSubmitter, PollProgress, SilentProgress
from pcr_sdk.testing import MotoWorld

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_s3 import S3Client


def work(data: Any) -> dict[str, int]:
    return {"x+y": data["x"] + data["y"], "x*y": data["x"] * data["y"]}


class Meter:
    """Adds a round trip to every API call on the given clients and counts calls per operation."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def install(self, clients: AwsClients) -> None:
        for client in (clients.batch, clients.s3):
            client.meta.events.register("before-call.*.*", self._before)

    def _before(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.calls[model.name] += 1
        time.sleep(self.latency)

    @contextmanager
    def phase(self, results: list[Phase], workload: str, name: str, jobs: int) -> Iterator[Phase]:
        before = self.calls.copy()
        started = time.perf_counter()
        record = Phase(workload, name, jobs)
        yield record
        record.seconds = time.perf_counter() - started
        record.calls = self.calls - before
        results.append(record)


@dataclass
class Phase:
    workload: str
    name: str
    jobs: int
    seconds: float = 0.0
    calls: Counter[str] = field(default_factory=Counter)
    cycles: int = 0

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())


def run_workloads(n: int, latency: float) -> list[Phase]:
    results: list[Phase] = []
    inputs = [{"x": i, "y": 3} for i in range(n)]
    with MotoWorld(polls_to_finish=0) as world:
        world.script.worker(work)
        meter = Meter(latency)
        meter.install(world.clients)
        batch, s3 = world.clients.batch, world.clients.s3

        # the seed's algorithm, sequential
        ref = SeedJobSubmitter(
            "reference", world.queue, "img", world.bucket, batch=batch, s3=s3,
            polling_interval_seconds=0, request_throttling_milliseconds=0,
        )  # fmt: skip
        with meter.phase(results, "reference", "submit", n):
            for data in inputs:
                ref.submit_job(data)
        with meter.phase(results, "reference", "wait", n) as p:
            p.cycles = ref.wait_until_jobs_finished()
        with meter.phase(results, "reference", "outputs", n):
            ref_outputs = ref.get_all_outputs()

        def ours(name: str) -> tuple[JobSubmitter, list[PollProgress]]:
            cycles: list[PollProgress] = []

            class Count(SilentProgress):
                def on_progress(self, progress: PollProgress) -> None:
                    cycles.append(progress)

            submitter = JobSubmitter(
                name, world.queue, "img", world.bucket, clients=world.clients,
                polling_interval_seconds=0, request_throttling_milliseconds=0, progress=Count(),
            )  # fmt: skip
            return submitter, cycles

        def finish(submitter: JobSubmitter, workload: str, cycles: list[PollProgress]) -> None:
            with meter.phase(results, workload, "wait", n) as p:
                submitter.wait_until_jobs_finished()
                p.cycles = len(cycles)
            with meter.phase(results, workload, "outputs", n):
                outputs = submitter.get_all_outputs()
            assert outputs == ref_outputs, f"{workload}: outputs differ from the reference"

        seed_loop, cycles = ours("seed-loop")
        with meter.phase(results, "submit_job loop", "submit", n):
            for data in inputs:
                seed_loop.submit_job(data)
        finish(seed_loop, "submit_job loop", cycles)

        per_job, cycles = ours("per-job")
        with meter.phase(results, "submit_jobs(array=False)", "submit", n):
            per_job.submit_jobs(inputs, array=False)
        finish(per_job, "submit_jobs(array=False)", cycles)

        arrays, cycles = ours("arrays")
        with meter.phase(results, "submit_jobs(array=True)", "submit", n) as p:
            arrays.submit_jobs(inputs)
        p.calls["RegisterJobDefinition"] += 1  # made in the constructor, before the phase
        finish(arrays, "submit_jobs(array=True)", cycles)
    return results


class _Meta:
    """What pcr-sdk reads of a client's `meta`: its events, service, region and retries."""

    def __init__(self) -> None:
        self.events = HierarchicalEmitter()
        self.service_model = SimpleNamespace(service_id=ServiceId("Batch"))
        self.region_name = "us-east-1"
        self.endpoint_url = "https://batch.bench.invalid"
        self.config = Config(retries={"mode": "standard", "total_max_attempts": 3})


class _FakeBatch:
    """Just enough Batch for the memory measurement: arrays that finish at once."""

    def __init__(self) -> None:
        self.meta = _Meta()
        self.sizes: dict[str, int] = {}

    def register_job_definition(self, **_: Any) -> dict[str, Any]:
        return {"jobDefinitionArn": "arn:aws:batch:::job-definition/m:1"}

    def deregister_job_definition(self, **_: Any) -> dict[str, Any]:
        return {}

    def submit_job(self, **request: Any) -> dict[str, Any]:
        job_id = str(uuid.uuid4())
        self.sizes[job_id] = request.get("arrayProperties", {}).get("size", 0)
        return {"jobId": job_id, "jobName": request["jobName"]}

    def describe_jobs(self, *, jobs: list[str]) -> dict[str, Any]:
        return {
            "jobs": [
                {
                    "jobId": j, "jobName": "m", "jobQueue": "q", "status": "SUCCEEDED",
                    "startedAt": 0, "jobDefinition": "d",
                    "arrayProperties": {
                        "size": self.sizes[j], "statusSummary": {"SUCCEEDED": self.sizes[j]},
                    },
                }
                for j in jobs
            ]
        }  # fmt: skip


class _FakeS3:
    def put_object(self, **_: Any) -> dict[str, Any]:
        return {"ETag": '"e"'}

    def get_paginator(self, name: str) -> Any:
        del name
        return self

    def paginate(self, **_: Any) -> list[dict[str, Any]]:
        return [{"Contents": []}]  # the manifest, listed to see who else may submit


def tracking_memory(n: int) -> float:
    """MiB held by a JobSubmitter that submitted and waited for `n` jobs (array mode)."""
    clients = AwsClients(
        batch=cast("BatchClient", _FakeBatch()),
        s3=cast("S3Client", _FakeS3()),
        logs=cast("CloudWatchLogsClient", None),
    )
    gc.collect()
    tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0]
    submitter = JobSubmitter(
        "memory", "q", "img", "bench-bucket", clients=clients, polling_interval_seconds=0,
        request_throttling_milliseconds=0, progress=SilentProgress(),
    )  # fmt: skip
    submitter.submit_jobs({"i": i} for i in range(n))
    submitter.wait_until_jobs_finished()
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - baseline
    tracemalloc.stop()
    assert len(submitter.jobs) == n
    return held / 2**20


def report(
    results: list[Phase],
    n: int,
    latency: float,
    memory: tuple[int, float],
    out: Callable[[str], None],
) -> None:
    ref = {p.name: p for p in results if p.workload == "reference"}
    round_trip = f"{latency * 1000:.0f} ms simulated round trip per API call"
    out(f"N = {n} jobs, {round_trip}, MotoWorld in-process")
    out("")
    header = (
        f"{'workload':<26} {'phase':<8} {'wall s':>8} {'jobs/s':>9} {'calls':>6} {'x ref':>7}"
        "  calls by operation"
    )
    out(header)
    out("-" * len(header))
    for p in results:
        ratio = ref[p.name].seconds / p.seconds if p.seconds else float("inf")
        ops = ", ".join(f"{op} {c}" for op, c in sorted(p.calls.items()))
        per_cycle = (
            f" ({p.cycles} cycles, {p.total_calls / max(p.cycles, 1):.1f} calls/cycle)"
            if p.name == "wait"
            else ""
        )
        out(
            f"{p.workload:<26} {p.name:<8} {p.seconds:>8.2f} {p.jobs / p.seconds:>9.1f} "
            f"{p.total_calls:>6} {ratio:>6.1f}x  {ops}{per_cycle}"
        )
    out("")
    jobs, mib = memory
    out(f"tracking memory: {mib:.1f} MiB for {jobs:,} jobs (array mode, tracemalloc)")


@dataclass
class ResultCalls:
    """Batch calls that all results of one big array cost, after a wait and after attach."""

    children: int
    failed: int
    wait: Counter[str]
    after_wait: Counter[str]
    after_attach: Counter[str]


def array_result_calls(children: int, failed_every: int = 200) -> ResultCalls:
    """Submit one array of `children`, every `failed_every`-th failing; count Batch calls."""
    with MotoWorld(polls_to_finish=1) as world:
        world.script.fail_where(lambda view: (view.index or 0) % failed_every == 0, exit_code=3)
        meter = Meter(0.0)
        meter.install(world.clients)
        sub = JobSubmitter(
            "results", world.queue, "img", world.bucket, clients=world.clients,
            polling_interval_seconds=0, request_throttling_milliseconds=0,
            progress=SilentProgress(),
        )  # fmt: skip
        sub.submit_jobs({"i": i} for i in range(children))
        phases: list[Phase] = []
        with meter.phase(phases, "array", "wait", children):
            sub.wait_until_jobs_finished()
        with meter.phase(phases, "array", "after wait", children):
            results = sub.get_results()
        attached = JobSubmitter.attach(
            sub.get_batch_id(), job_queue=world.queue, job_bucket=world.bucket,
            clients=world.clients, progress=SilentProgress(),
        )  # fmt: skip
        with meter.phase(phases, "array", "after attach", children):
            again = attached.get_results()
        assert len(results) == len(again) == children
        failed = sum(not r.succeeded for r in again)
        wait, after_wait, after_attach = (p.calls for p in phases)
        return ResultCalls(children, failed, wait, after_wait, after_attach)


def report_result_calls(calls: ResultCalls, out: Callable[[str], None]) -> None:
    def show(counter: Counter[str]) -> str:
        ops = ", ".join(f"{op} {c}" for op, c in sorted(counter.items()) if op != "PutObject")
        return f"{sum(v for k, v in counter.items() if k != 'PutObject')} ({ops or 'none'})"

    out("")
    out(f"all results of one {calls.children:,}-child array ({calls.failed} failed), Batch calls:")
    out(f"  the wait itself:                 {show(calls.wait)}")
    out(f"  get_results() after the wait:    {show(calls.after_wait)}")
    out(f"  get_results() after attach:      {show(calls.after_attach)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--memory-jobs", type=int, default=100_000)
    parser.add_argument("--array-children", type=int, default=10_000)
    parser.add_argument("--local-jobs", type=int, default=200)
    parser.add_argument("--local-repeats", type=int, default=5)
    args = parser.parse_args(argv)
    latency = args.latency_ms / 1000
    results = run_workloads(args.jobs, latency)
    memory = (args.memory_jobs, tracking_memory(args.memory_jobs))
    report(results, args.jobs, latency, memory, print)
    report_result_calls(array_result_calls(args.array_children), print)
    print()
    local_bench.report(local_bench.compare(args.local_jobs, args.local_repeats), print)
    local_bench.report_overhead(local_bench.overhead(args.local_jobs, args.local_repeats), print)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
