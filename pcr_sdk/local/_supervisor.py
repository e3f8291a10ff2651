"""The backend's side of its supervisor process (`_reaper`): start it, run attempts under it.

`Supervisor.open()` starts the one supervisor process of a backend from a thread that lives as
long as it (Linux sends the parent-death signal when the *thread* that started a process ends),
then reads its messages on that thread. `start()` hands it an attempt (argv, environment,
working directory, memory limit, and the write end of the attempt's output pipe) and returns a
`Supervised` attempt to signal, kill and wait for.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from pcr_sdk.local import _reaper

logger = logging.getLogger(__name__)

REAPER: Final = Path(_reaper.__file__)
DEFAULT_SAMPLE_SECONDS: Final = 0.1
"""How often the supervisor sums each running attempt's resident memory."""
_READY_SECONDS: Final = 60.0
_CLOSE_SECONDS: Final = 10.0


class SupervisorError(Exception):
    """The supervisor is not running, or it could not start an attempt."""


@dataclass(frozen=True)
class Spawn:
    """One attempt as the supervisor starts it."""

    key: str
    program: str
    """The executable, resolved."""
    argv: Sequence[str]
    env: Mapping[str, str]
    cwd: str | None
    memory_mib: int | None
    """Kill the attempt when its processes' resident memory exceeds this."""
    marker: Mapping[str, str]
    """Environment entries only this attempt's processes hold (its job id and attempt)."""


@dataclass(frozen=True)
class Ended:
    """How a supervised attempt ended."""

    code: int | None
    """The exit code (128 + n for a signal n); None if the supervisor went away first."""
    oom: bool = False
    """The supervisor killed it for exceeding its memory."""


class Supervised:
    """One attempt running under the supervisor."""

    def __init__(self, supervisor: Supervisor, key: str, pid: int) -> None:
        self._supervisor = supervisor
        self.key = key
        self.pid = pid
        self._ended: Future[Ended] = Future()

    def signal(self, number: int) -> None:
        """Send `number` to the attempt's process group (no-op once it ended)."""
        if not self._ended.done():
            self._supervisor.send({"op": "signal", "key": self.key, "signal": int(number)})

    def kill(self) -> None:
        """SIGKILL every process of the attempt (no-op once it ended)."""
        if not self._ended.done():
            self._supervisor.send({"op": "kill", "key": self.key})

    def wait(self, timeout: float | None = None) -> Ended:
        """Block until the attempt ended (its processes are all gone then)."""
        return self._ended.result(timeout)

    def _finish(self, ended: Ended) -> None:
        if not self._ended.done():
            self._ended.set_result(ended)


class Supervisor:
    """One supervisor process for a backend's attempts; `open()` starts it, `close()` ends it."""

    def __init__(
        self, *, sample_seconds: float = DEFAULT_SAMPLE_SECONDS, python: str = sys.executable
    ) -> None:
        if not sample_seconds > 0:
            raise ValueError(f"sample_seconds must be positive, got {sample_seconds}")
        self._sample_seconds = sample_seconds
        self._python = python
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._ready: Future[dict[str, Any]] = Future()
        self._pending: dict[str, Future[Supervised]] = {}
        self._attempts: dict[str, Supervised] = {}
        self._gone = False
        self._closed = False
        self._popen: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None
        self.subreaper = False
        """The supervisor adopts what jobs leave behind (Linux)."""
        self.memory = False
        """The supervisor samples memory and kills attempts over their limit (Linux /proc)."""

    # -- lifecycle ---------------------------------------------------------------------------

    def open(self) -> None:
        """Start the supervisor process and wait until it is ready.

        Raises:
            SupervisorError: it did not start.
        """
        with self._lock:
            if self._thread is not None:
                return
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            self._socket = ours
            self._thread = threading.Thread(
                target=self._serve, args=(theirs,), name="pcr-local-supervisor", daemon=True
            )
            self._thread.start()
        try:
            ready = self._ready.result(_READY_SECONDS)
        except Exception as err:
            self.close()
            raise SupervisorError(f"the local supervisor did not start: {err}") from err
        self.pid = int(ready["pid"])
        self.subreaper = bool(ready.get("subreaper"))
        self.memory = bool(ready.get("memory"))

    def close(self) -> None:
        """End the supervisor: it kills whatever still runs of any attempt, then exits."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is None:
            return
        with contextlib.suppress(SupervisorError):
            self.send({"op": "close"})
        self._closed = True
        thread.join(_CLOSE_SECONDS)
        if thread.is_alive() and self._popen is not None:  # pragma: no cover - a stuck supervisor
            logger.warning("the local supervisor did not exit; killing it")
            self._popen.kill()
            thread.join()

    # -- attempts ----------------------------------------------------------------------------

    def start(self, spawn: Spawn, output: int) -> Supervised:
        """Start an attempt whose stdout and stderr go to `output` (closed here).

        Args:
            spawn: the attempt.
            output: a descriptor for its stdout and stderr.

        Returns:
            The running attempt.

        Raises:
            SupervisorError: the supervisor is gone, or could not start the program (its
                message says why, e.g. `prog: Permission denied`).
        """
        result: Future[Supervised] = Future()
        message = {
            "op": "start",
            "key": spawn.key,
            "program": spawn.program,
            "argv": list(spawn.argv),
            "env": dict(spawn.env),
            "cwd": spawn.cwd,
            "memory_bytes": spawn.memory_mib * 1024 * 1024 if spawn.memory_mib else None,
            "marker": [f"{name}={value}" for name, value in spawn.marker.items()],
        }
        try:
            with self._lock:
                self._check_running()
                self._pending[spawn.key] = result
            self.send(message, fds=[output])
        except SupervisorError:
            with self._lock:
                self._pending.pop(spawn.key, None)
            raise
        finally:
            os.close(output)
        return result.result()

    def _check_running(self) -> None:
        if self._closed or self._socket is None:
            raise SupervisorError("the local backend is not running")
        if self._gone:
            raise SupervisorError("the local supervisor exited")

    def watch_container(self, key: str, remove: Sequence[str]) -> None:
        """Have the supervisor run `remove` if the backend dies while this container runs."""
        self.send({"op": "container", "key": key, "remove": list(remove)})

    def forget_container(self, key: str) -> None:
        with contextlib.suppress(SupervisorError):
            self.send({"op": "container-done", "key": key})

    def send(self, message: Mapping[str, object], fds: Sequence[int] = ()) -> None:
        """Send one frame (with descriptors).

        Args:
            message: the message.
            fds: descriptors passed along with it.

        Raises:
            SupervisorError: the supervisor is gone.
        """
        self._check_running()
        sock = self._socket
        assert sock is not None
        data = _reaper.frame(message)
        try:
            with self._send_lock:
                if fds:
                    sent = socket.send_fds(sock, [data], list(fds))
                    if sent < len(data):
                        sock.sendall(data[sent:])
                else:
                    sock.sendall(data)
        except OSError as err:
            raise SupervisorError(f"the local supervisor is gone: {err}") from err

    # -- the thread ------------------------------------------------------------------------------

    def _serve(self, theirs: socket.socket) -> None:
        sock = self._socket
        assert sock is not None
        try:
            with theirs:
                self._popen = subprocess.Popen(
                    [
                        self._python,
                        "-I",
                        "-S",
                        str(REAPER),
                        str(os.getpid()),
                        repr(self._sample_seconds),
                        str(theirs.fileno()),
                    ],
                    pass_fds=(theirs.fileno(),),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    start_new_session=True,  # the terminal's Ctrl-C is the backend's to handle
                )
        except OSError as err:
            self._ready.set_exception(SupervisorError(str(err)))
            self._lose()
            return
        popen = self._popen
        errors = threading.Thread(
            target=_log_lines, args=(popen.stderr,), name="pcr-local-supervisor-err", daemon=True
        )
        errors.start()
        frames = _reaper.Frames()
        try:
            while True:
                try:
                    data = sock.recv(1 << 16)
                except OSError:
                    break
                if not data:
                    break
                for message in frames.feed(data):
                    self._dispatch(message)
        except ValueError:
            logger.exception("the local supervisor sent a malformed frame")
        finally:
            self._lose()
            popen.wait()
            errors.join()
            sock.close()

    def _dispatch(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        key = str(message.get("key"))
        if op == "ready":
            self._ready.set_result(message)
        elif op == "started":
            attempt = Supervised(self, key, int(message["pid"]))
            with self._lock:
                self._attempts[key] = attempt
                pending = self._pending.pop(key, None)
            if pending is not None:
                pending.set_result(attempt)
        elif op == "failed":
            with self._lock:
                pending = self._pending.pop(key, None)
            if pending is not None:
                pending.set_exception(SupervisorError(str(message.get("error"))))
        elif op == "exit":
            with self._lock:
                found = self._attempts.pop(key, None)
            if found is not None:
                code = message.get("code")
                found._finish(Ended(int(code) if code is not None else None, bool(message["oom"])))

    def _lose(self) -> None:
        """The supervisor is gone: fail what waits on it, kill what it ran (best effort)."""
        with self._lock:
            self._gone = True
            pending, self._pending = self._pending, {}
            attempts, self._attempts = self._attempts, {}
        if not self._ready.done():
            self._ready.set_exception(SupervisorError("the supervisor exited"))
        for future in pending.values():
            future.set_exception(SupervisorError("the local supervisor exited"))
        if attempts:
            logger.error(
                "the local supervisor exited while %d attempt(s) ran; killing their process groups",
                len(attempts),
            )
        for attempt in attempts.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(attempt.pid, signal.SIGKILL)
            attempt._finish(Ended(None))


def _log_lines(stream: Any) -> None:
    with stream:
        for raw in stream:
            logger.warning("local supervisor: %s", raw.decode(errors="replace").rstrip())
