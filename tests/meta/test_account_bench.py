"""`benchmarks/account_bench.py` keeps working: run tiny (no timing asserted)."""

from __future__ import annotations

import pytest

from tests.support.benchmarks import load_benchmark


@pytest.mark.slow
def test_the_account_benchmark_runs_both_backends_interleaved(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bench = load_benchmark("account_bench.py", monkeypatch)
    costs = bench.measure(objects=3, jobs=2, repeats=2)
    assert {name: len(times) for name, times in costs.seconds.items()} == {
        "puts, temporary": 2, "puts, kept": 2, "jobs, temporary": 2, "jobs, kept": 2, "reopen": 2,
    }  # fmt: skip
    assert costs.s3_bytes > 3 * len(bench.BODY)
    assert costs.compacted_bytes < costs.journal_bytes
    printed: list[str] = []
    bench.report(costs, printed.append)
    assert printed[-1].startswith("on disk: ")
