"""Loading a script of `benchmarks/` as a module, for the tests that run it small."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Final

import pytest

BENCHMARKS: Final = Path(__file__).resolve().parents[2] / "benchmarks"


def load_benchmark(script: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """`benchmarks/<script>` imported under `pcr_<stem>` (registered in `sys.modules` for the
    test only: its dataclasses look their module up)."""
    name = f"pcr_{Path(script).stem}"
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module
