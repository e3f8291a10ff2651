"""Helpers of the `pcr` command's tests."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from typer.testing import CliRunner, Result

from pcr_sdk.cli._app import app
from pcr_sdk.cli._runtime import Runtime

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sum_product"
PLAIN_WORKER = EXAMPLE / "worker_plain.py"


def worker_command(script: Path = PLAIN_WORKER) -> str:
    """A --command value running `script` with this interpreter."""
    return shlex.join([sys.executable, str(script)])


def invoke(args: Sequence[str], *, obj: Runtime | None = None, input: str | None = None) -> Result:
    """Run `pcr ARGS` in-process; stdout and stderr stay apart."""
    return CliRunner().invoke(app, list(args), obj=obj, input=input)


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def assert_clean_exit(result: Result, code: int, *, job_logs: bool = False) -> None:
    """Exited with `code` through typer, never with a traceback of pcr's own.

    `job_logs`: stderr shows a failed job's log, which may hold the worker's traceback.
    """
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    if not job_logs:
        assert "Traceback" not in result.stderr


def write_jobs(path: Path, rows: Sequence[str]) -> Path:
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path
