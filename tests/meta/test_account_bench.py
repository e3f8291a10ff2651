"""`benchmarks/account_bench.py` keeps working: run tiny (no timing asserted)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_the_account_benchmark_runs_both_backends_interleaved(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "account_bench.py"
    spec = importlib.util.spec_from_file_location("pcr_account_bench", path)
    assert spec is not None
    assert spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "pcr_account_bench", bench)
    spec.loader.exec_module(bench)
    costs = bench.measure(objects=3, jobs=2, repeats=2)
    assert {name: len(times) for name, times in costs.seconds.items()} == {
        "puts, temporary": 2, "puts, kept": 2, "jobs, temporary": 2, "jobs, kept": 2, "reopen": 2,
    }  # fmt: skip
    assert costs.s3_bytes > 3 * len(bench.BODY)
    assert costs.compacted_bytes < costs.journal_bytes
    printed: list[str] = []
    bench.report(costs, printed.append)
    assert printed[-1].startswith("on disk: ")
