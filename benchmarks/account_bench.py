"""What keeping a local account costs: a kept backend beside a temporary one, side by side.

Every round runs, on a temporary `LocalBackend()` and on one kept in a data directory:

- puts: `objects` PutObjects of a small JSON body through the backend's S3 client (the kept
  one writes each to a file before it answers);
- jobs: `jobs` trivial jobs (`python -c pass`), submitted and followed with DescribeJobs until
  all have finished (the kept engine appends each change to its journal);

and then reopens the kept account (`LocalBackend.reopen`: the objects back into moto, the
journal read and compacted), timed against the kept puts of the same round. Rounds are
interleaved, the order rotated; reported are medians and ratios, and the bytes the account
takes per object and per job. Shared machines are noisy: read the ratios, nothing passes or
fails on them.

    .venv/bin/python benchmarks/account_bench.py [--objects N] [--jobs N] [--repeats R]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from pcr_sdk.local import LocalAccount, LocalBackend

COMMAND: Final = [sys.executable, "-c", "pass"]
BODY: Final = b'{"x": 1, "y": 2, "padding": "' + b"." * 200 + b'"}'
_POLL_SECONDS: Final = 0.02


@dataclass
class Costs:
    """Seconds per measurement, one per round; sizes of the last kept account."""

    objects: int
    jobs: int
    seconds: dict[str, list[float]] = field(default_factory=dict)
    s3_bytes: int = 0
    journal_bytes: int = 0
    """As the jobs left it, before a reopen compacts it."""
    compacted_bytes: int = 0

    def median(self, name: str) -> float:
        return statistics.median(self.seconds[name])

    def ratio(self, name: str, base: str) -> float:
        pairs = zip(self.seconds[name], self.seconds[base], strict=True)
        return statistics.median(ours / theirs for ours, theirs in pairs)


def _run_jobs(backend: LocalBackend, jobs: int) -> None:
    batch = backend.clients.batch
    definition = batch.register_job_definition(
        jobDefinitionName="bench",
        type="container",
        containerProperties={"image": "bench", "vcpus": 1, "memory": 64, "command": COMMAND},
    )["jobDefinitionArn"]
    unfinished = [
        batch.submit_job(jobName="bench", jobQueue=backend.queue, jobDefinition=definition)["jobId"]
        for _ in range(jobs)
    ]
    while unfinished:
        time.sleep(_POLL_SECONDS)
        still = []
        for start in range(0, len(unfinished), 100):
            for job in batch.describe_jobs(jobs=unfinished[start : start + 100])["jobs"]:
                if job["status"] == "FAILED":
                    raise RuntimeError(f"job {job['jobId']} failed")
                if job["status"] != "SUCCEEDED":
                    still.append(job["jobId"])
        unfinished = still


def _timed(work: Callable[[], None]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def _round(costs: Costs, root: Path, kept: bool) -> None:
    tag = "kept" if kept else "temporary"
    directory = root / f"account-{len(costs.seconds.get('puts, kept', []))}" if kept else None
    slots = 2
    with LocalBackend(
        data_dir=directory, vcpus=slots, memory_mib=slots * 1024, max_parallel=slots
    ) as backend:
        s3 = backend.clients.s3

        def puts() -> None:
            for n in range(costs.objects):
                s3.put_object(Bucket=backend.bucket, Key=f"jobs/b/{n:06d}/config.json", Body=BODY)

        costs.seconds.setdefault(f"puts, {tag}", []).append(_timed(puts))
        costs.seconds.setdefault(f"jobs, {tag}", []).append(
            _timed(lambda: _run_jobs(backend, costs.jobs))
        )
    if directory is not None:
        journal = directory / "engine" / "journal.jsonl"
        costs.journal_bytes = journal.stat().st_size

        def reopen() -> None:
            with LocalBackend.reopen(directory, run_jobs=False):
                pass

        costs.seconds.setdefault("reopen", []).append(_timed(reopen))
        costs.s3_bytes = sum(f.stat().st_size for f in (directory / "s3").rglob("*~"))
        costs.compacted_bytes = journal.stat().st_size
        LocalAccount(directory).reset()


def measure(objects: int = 500, jobs: int = 100, repeats: int = 3) -> Costs:
    """Run the rounds, interleaved; the costs."""
    costs = Costs(objects, jobs)
    with tempfile.TemporaryDirectory() as root:
        for round_ in range(repeats):
            for kept in (round_ % 2 == 0, round_ % 2 == 1):
                _round(costs, Path(root), kept)
    return costs


def report(costs: Costs, out: Callable[[str], None]) -> None:
    rounds = len(costs.seconds["reopen"])
    out(
        f"a kept local account beside a temporary one: {costs.objects} PutObjects, "
        f"{costs.jobs} trivial jobs; median of {rounds} interleaved rounds"
    )
    out(f"{'measure':<18} {'median s':>9} {'x temporary':>12}")
    for what in ("puts", "jobs"):
        for tag in ("temporary", "kept"):
            name = f"{what}, {tag}"
            ratio = "" if tag == "temporary" else f"{costs.ratio(name, f'{what}, temporary'):.2f}x"
            out(f"{name:<18} {costs.median(name):>9.2f} {ratio:>12}")
    out(
        f"{'reopen':<18} {costs.median('reopen'):>9.2f} "
        f"{costs.ratio('reopen', 'puts, kept'):>11.2f}x of the kept puts"
    )
    out(
        f"on disk: {costs.s3_bytes / costs.objects:.0f} bytes per {len(BODY)}-byte object, "
        f"journal {costs.journal_bytes / costs.jobs:.0f} bytes per job as written, "
        f"{costs.compacted_bytes / costs.jobs:.0f} once a reopen compacted it"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=500)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    report(measure(args.objects, args.jobs, args.repeats), print)


if __name__ == "__main__":
    main()
