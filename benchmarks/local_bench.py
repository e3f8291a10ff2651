"""The local engine's throughput beside a plain process pool, on the same trivial jobs.

Every variant runs `jobs` times the same command (a Python that starts and exits), at most
`parallel` at once, its output captured:

- pool: a thread pool of `parallel` workers, each job one `subprocess.run` (what one would
  write without pcr-sdk), in a session of its own as each engine attempt is (Linux schedules
  each session as a group: on a busy machine, jobs sharing the benchmark's session would get
  less CPU than the engine's, and the pool would look slow);
- engine: a `LocalBackend` (compute environment of `parallel` vCPUs, 1 vCPU per job), the jobs
  submitted with SubmitJob through the backend's own clients (answered in-process) and
  followed with DescribeJobs until all have finished;
- engine over HTTP: the same through plain boto3 clients pointed at the backend's endpoint.

Variants run interleaved, `repeats` rounds, the order rotated every round; reported are the
median wall times and each engine variant's median ratio to the pool of the same round.

`overhead()` measures the supervisor alone: `attempts` runs of `/bin/true` one after another,
started by the backend's supervisor (the start request, the spawn, the exit report, the output
pipe's end) and by a plain `subprocess.run`, interleaved; the difference of the medians is what
the supervisor adds to each attempt, in milliseconds.

Shared machines are noisy: read the ratios, nothing passes or fails on them.

    python benchmarks/local_bench.py [--jobs 200] [--repeats 5] [--parallel 2] [--attempts 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import boto3

from pcr_sdk.local import LocalBackend

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient

    from pcr_sdk.local._supervisor import Supervisor

COMMAND: Final = [sys.executable, "-c", "pass"]
POOL: Final = "process pool"
ENGINE: Final = "local engine"
ENGINE_HTTP: Final = "local engine, HTTP"
_POLL_SECONDS: Final = 0.1
"""How often the engine variants poll DescribeJobs: as a client would, not so often that the
benchmark's own polling (every unfinished job described, in the same process) takes the
engine's CPU."""


@dataclass
class Comparison:
    """Wall seconds per variant, one per round, in round order."""

    jobs: int
    parallel: int
    seconds: dict[str, list[float]] = field(default_factory=dict)

    def median(self, variant: str) -> float:
        return statistics.median(self.seconds[variant])

    def ratio(self, variant: str) -> float:
        """Median over the rounds of `variant`'s time / the pool's time in that round."""
        pairs = zip(self.seconds[variant], self.seconds[POOL], strict=True)
        return statistics.median(ours / pool for ours, pool in pairs)


def run_pool(jobs: int, parallel: int) -> None:
    """Each job one subprocess, `parallel` at once, output captured; all must succeed."""

    def one(_: int) -> int:
        return subprocess.run(
            COMMAND, capture_output=True, check=False, start_new_session=True
        ).returncode

    with ThreadPoolExecutor(parallel) as pool:
        codes = list(pool.map(one, range(jobs)))
    if any(codes):
        raise RuntimeError(f"pool: {sum(1 for c in codes if c)} job(s) failed")


def run_engine(batch: BatchClient, queue: str, definition: str, jobs: int) -> None:
    """Submit `jobs` jobs, poll DescribeJobs until all have finished; all must succeed."""
    unfinished = [
        batch.submit_job(jobName=f"bench-{n}", jobQueue=queue, jobDefinition=definition)["jobId"]
        for n in range(jobs)
    ]
    failed = 0
    while unfinished:
        time.sleep(_POLL_SECONDS)
        still: list[str] = []
        for start in range(0, len(unfinished), 100):
            for job in batch.describe_jobs(jobs=unfinished[start : start + 100])["jobs"]:
                if job["status"] == "FAILED":
                    failed += 1
                elif job["status"] != "SUCCEEDED":
                    still.append(job["jobId"])
        unfinished = still
    if failed:
        raise RuntimeError(f"engine: {failed} job(s) failed")


def compare(jobs: int = 200, repeats: int = 5, parallel: int | None = None) -> Comparison:
    """Run every variant `repeats` times, interleaved; their wall times."""
    slots = parallel or (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )
    result = Comparison(jobs, slots, {POOL: [], ENGINE: [], ENGINE_HTTP: []})
    with LocalBackend(vcpus=slots, memory_mib=slots * 1024, max_parallel=slots) as backend:
        definition = backend.clients.batch.register_job_definition(
            jobDefinitionName="bench",
            type="container",
            containerProperties={"image": "bench", "vcpus": 1, "memory": 64, "command": COMMAND},
        )["jobDefinitionArn"]
        plain = boto3.Session(
            aws_access_key_id=backend.credentials.access_key_id,
            aws_secret_access_key=backend.credentials.secret_access_key,
            region_name=backend.region,
        ).client("batch", endpoint_url=backend.endpoint_url)
        variants: list[tuple[str, Callable[[], None]]] = [
            (POOL, lambda: run_pool(jobs, slots)),
            (ENGINE, lambda: run_engine(backend.clients.batch, backend.queue, definition, jobs)),
            (ENGINE_HTTP, lambda: run_engine(plain, backend.queue, definition, jobs)),
        ]
        for round_ in range(repeats):
            shift = round_ % len(variants)
            for name, run in variants[shift:] + variants[:shift]:
                started = time.perf_counter()
                run()
                result.seconds[name].append(time.perf_counter() - started)
        plain.close()
    return result


def report(result: Comparison, out: Callable[[str], None]) -> None:
    rounds = len(result.seconds[POOL])
    out(
        f"local engine vs a plain process pool: {result.jobs} trivial jobs "
        f"({' '.join(COMMAND[1:])!r}), {result.parallel} at once, median of {rounds} "
        "interleaved rounds"
    )
    out(f"{'variant':<20} {'median s':>9} {'jobs/s':>8} {'x pool':>7}")
    for name in (POOL, ENGINE, ENGINE_HTTP):
        median = result.median(name)
        ratio = "" if name == POOL else f"{result.ratio(name):>6.2f}x"
        out(f"{name:<20} {median:>9.2f} {result.jobs / median:>8.1f} {ratio:>7}")
    out("x pool: time relative to the pool in the same round (below 1: faster); noise on a")
    out("shared machine is easily 10-20%, nothing passes or fails on it")


TRUE: Final = "/bin/true"


@dataclass
class Overhead:
    """Seconds per attempt of `/bin/true`, one per run, started both ways."""

    supervised: list[float] = field(default_factory=list)
    direct: list[float] = field(default_factory=list)

    def added_ms(self) -> float:
        """What the supervisor adds to one attempt: the difference of the medians, in ms."""
        return (statistics.median(self.supervised) - statistics.median(self.direct)) * 1000


def overhead(attempts: int = 200, repeats: int = 5) -> Overhead:
    """Time `attempts` sequential runs of /bin/true under the supervisor and directly."""
    from pcr_sdk.local._supervisor import Supervisor  # noqa: PLC0415 - internals, for this only

    result = Overhead()
    supervisor = Supervisor()
    supervisor.open()
    try:
        for round_ in range(repeats):
            ways = [_supervised_run(supervisor, round_), _direct_run]
            for way in ways if round_ % 2 == 0 else ways[::-1]:
                for n in range(attempts):
                    way(n, result)
    finally:
        supervisor.close()
    return result


def _supervised_run(supervisor: Supervisor, round_: int) -> Callable[[int, Overhead], None]:
    from pcr_sdk.local._supervisor import Spawn  # noqa: PLC0415 - internals, for this only

    def run(n: int, result: Overhead) -> None:
        read, write = os.pipe()
        started = time.perf_counter()
        attempt = supervisor.start(
            Spawn(f"bench-{round_}-{n}", TRUE, ["true"], {"PATH": os.defpath}, None, 64, {}),
            write,
        )
        with os.fdopen(read, "rb") as output:
            output.read()
        ended = attempt.wait()
        result.supervised.append(time.perf_counter() - started)
        if ended.code != 0:
            raise RuntimeError(f"supervised /bin/true exited {ended.code}")

    return run


def _direct_run(n: int, result: Overhead) -> None:
    del n
    started = time.perf_counter()
    done = subprocess.run([TRUE], capture_output=True, check=False, start_new_session=True)
    code = done.returncode
    result.direct.append(time.perf_counter() - started)
    if code != 0:
        raise RuntimeError(f"/bin/true exited {code}")


def report_overhead(result: Overhead, out: Callable[[str], None]) -> None:
    out("")
    out(
        f"the supervisor's overhead per attempt: {len(result.direct)} runs of {TRUE} each way, "
        "one at a time, interleaved"
    )
    out(f"  under the supervisor  {statistics.median(result.supervised) * 1000:6.2f} ms (median)")
    out(f"  subprocess.run        {statistics.median(result.direct) * 1000:6.2f} ms (median)")
    out(f"  added per attempt     {result.added_ms():6.2f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The local engine beside a plain process pool.")
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--attempts", type=int, default=200)
    args = parser.parse_args(argv)
    report(compare(args.jobs, args.repeats, args.parallel), print)
    report_overhead(overhead(args.attempts, args.repeats), print)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
