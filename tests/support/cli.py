"""Helpers of the `pcr` command's tests."""

from __future__ import annotations

import functools
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Final

import typer.main
import typer.testing
from typer.testing import CliRunner, Result

from pcr_sdk.cli._app import app
from pcr_sdk.cli._runtime import Runtime

EXAMPLE: Final = Path(__file__).resolve().parents[2] / "examples" / "sum_product"
PLAIN_WORKER: Final = EXAMPLE / "worker_plain.py"
SDK_WORKER: Final = EXAMPLE / "worker_sdk.py"
WORKERS: Final = Path(__file__).resolve().parent / "workers"
SLEEPY_WORKER: Final = WORKERS / "cli_sleepy_worker.py"
EXITS_WORKER: Final = WORKERS / "cli_exits_worker.py"
LIGHT_WORKER: Final = WORKERS / "cli_light_worker.py"
LAUNCHER: Final = (
    "import signal, sys\n"
    "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
    "for name in ('SIGTERM', 'SIGHUP'):\n"
    "    signal.signal(getattr(signal, name), signal.SIG_DFL)\n"
    "from pcr_sdk.cli import main\n"
    "main()\n"
)
"""`pcr` in a child process, with the default signal dispositions whatever the test runner
left it (a runner started in the background ignores SIGINT, and children inherit that)."""

# typer builds the click command of the app anew on every CliRunner.invoke (54 ms of CPU, a
# fifth of the suite's in-process `pcr` runs); a click command keeps no state between runs.
_TYPER_TESTING: Final = vars(typer.testing)
assert "_get_command" in _TYPER_TESTING, "typer.testing changed: drop this cache"
_TYPER_TESTING["_get_command"] = functools.cache(typer.main.get_command)


def worker_command(script: Path = LIGHT_WORKER) -> str:
    """A --command value running `script` with this interpreter (by default, the sum and
    product of the examples on a job that does not import boto3)."""
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


class PcrProcess:
    """`pcr ARGS` as a real child process; its stderr is collected line by line as it comes."""

    def __init__(
        self, args: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None
    ) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, *args],
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stderr_lines: list[str] = []
        self.stdout_lines: list[str] = []
        self._readers = [
            self._read(self.popen.stderr, self.stderr_lines),
            self._read(self.popen.stdout, self.stdout_lines),
        ]

    @staticmethod
    def _read(stream: IO[str] | None, into: list[str]) -> threading.Thread:
        def pump() -> None:
            assert stream is not None
            for line in stream:
                into.append(line)

        thread = threading.Thread(target=pump, daemon=True)
        thread.start()
        return thread

    def wait_for_stderr(self, text: str, timeout: float = 60) -> None:
        """Block until a stderr line contains `text` (fails if the process ends first)."""
        wait_until(
            lambda: any(text in line for line in self.stderr_lines),
            timeout,
            f"{text!r} on stderr",
            process=self.popen,
        )

    def wait_for_stdout(self, text: str, timeout: float = 60) -> None:
        """Block until a stdout line contains `text` (fails if the process ends first)."""
        wait_until(
            lambda: any(text in line for line in self.stdout_lines),
            timeout,
            f"{text!r} on stdout",
            process=self.popen,
        )

    def send(self, number: signal.Signals) -> None:
        os.kill(self.popen.pid, number)

    def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        """Exit code, stdout and stderr once the process has ended."""
        try:
            code = self.popen.wait(timeout)
        finally:
            if self.popen.poll() is None:
                self.popen.kill()
                self.popen.wait()
            for reader in self._readers:
                reader.join(timeout)
            for stream in (self.popen.stdout, self.popen.stderr):
                if stream is not None:
                    stream.close()
        return code, "".join(self.stdout_lines), "".join(self.stderr_lines)


def wait_until(
    predicate: Callable[[], bool],
    timeout: float,
    what: str,
    *,
    process: subprocess.Popen[str] | None = None,
) -> None:
    """Poll `predicate` (real time: only the subprocess tests use this)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the process ended (exit {process.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} after {timeout} s")
        time.sleep(0.05)


def alive(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie (dead, waiting to be reaped)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    except OSError:  # pragma: no cover - no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    state = next((line for line in status.splitlines() if line.startswith("State:")), "")
    return "Z" not in state.split(":", 1)[-1].split()[:1]


def marked_pids(marks: Path, kind: str) -> list[int]:
    """The pids a test worker marked in `marks` as `<kind>-<pid>` files."""
    return sorted(int(p.name.split("-", 1)[1]) for p in marks.glob(f"{kind}-*"))
