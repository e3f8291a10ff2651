"""The benchmark scripts in `benchmarks/` run, small (`make bench` runs them in full)."""

from __future__ import annotations

import sys

import pytest

from tests.support.benchmarks import BENCHMARKS, load_benchmark


@pytest.mark.slow
def test_benchmark_script_runs_and_counts_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    bench = load_benchmark("bench.py", monkeypatch)
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
    bench = load_benchmark("local_bench.py", monkeypatch)
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


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_the_big_array_memory_benchmark_runs_small() -> None:
    """`benchmarks/big_array_memory.py` keeps working: run tiny (no memory figure asserted)."""
    import subprocess

    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "big_array_memory.py"), "--inputs", "20", "--kib", "1"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("one array of 20 inputs")
    assert "added by submit_jobs:" in done.stdout
