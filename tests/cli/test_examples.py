"""The shipped examples run as documented (locally: no AWS account)."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest

from tests.support.cli import EXAMPLE

pytestmark = pytest.mark.subprocess


def _run_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sum_product_run", EXAMPLE / "run.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("flavour", ["plain", "sdk"])
def test_run_py_runs_the_batch_locally(flavour: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = _run_module().main(["--worker", flavour])
    out, err = capsys.readouterr()
    assert code == 0
    assert out.splitlines() == [
        '{"x": 2, "y": 3} -> {"x+y": 5, "x*y": 6}',
        '{"x": 10, "y": 4} -> {"x+y": 14, "x*y": 40}',
        '{"x": -1, "y": 7} -> {"x+y": 6, "x*y": -7}',
    ]
    assert err.splitlines()[-1] == "Jobs finished: 3/3"
