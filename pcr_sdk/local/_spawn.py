"""Starting attempt processes so that none outlives the backend, even one killed with SIGKILL.

Every attempt runs in a new session (its own process group) under a tiny supervisor: a Python
process that starts the job's command in that group and exits with its status. On Linux the
supervisor asks the kernel (`prctl(PR_SET_PDEATHSIG)`) for SIGHUP when its parent goes away,
and answers it by SIGKILLing its whole group, so the job's children die too. Elsewhere it polls
its parent id once a second. The guarantee after a SIGKILL of the backend's process is therefore
Linux-first; on other POSIX systems the group dies within about a second.

PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, so every attempt process is
started by one `Spawner` thread that lives as long as the backend.

A job process killed together with its supervisor is reparented to init, which reaps it; on a
host whose PID 1 does not reap orphans promptly (some containers) it lingers as a zombie (dead,
holding no resources but its process id) until it does.
"""

from __future__ import annotations

import logging
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Final

logger = logging.getLogger(__name__)

SUPERVISOR: Final = r"""
import os, signal, sys, threading, time

parent, path, argv = int(sys.argv[1]), sys.argv[2], sys.argv[3:]


def orphaned(*_):
    os.killpg(0, signal.SIGKILL)


signal.signal(signal.SIGHUP, orphaned)
watched = False
try:
    import ctypes

    watched = ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGHUP, 0, 0, 0) == 0
except (OSError, AttributeError):
    pass
if os.getppid() != parent:
    orphaned()
if not watched:
    def poll():
        while os.getppid() == parent:
            time.sleep(1)
        orphaned()

    threading.Thread(target=poll, daemon=True).start()
early = []


def before_start(number, _):
    early.append(number)  # later ones reach the job itself: it is in the same group


for number in (signal.SIGTERM, signal.SIGINT):
    signal.signal(number, before_start)
try:
    pid = os.posix_spawn(path, argv, os.environ)
except OSError as err:
    sys.stderr.write(f"{argv[0]}: {err.strerror}\n")
    os._exit(127)
for number in (signal.SIGTERM, signal.SIGINT):
    signal.signal(number, lambda *_: None)
for number in early:
    os.kill(pid, number)  # a stop that came while the job was being started
_, status = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(status)
if code < 0:
    signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
os._exit(code)
"""
"""The supervisor: `python -c SUPERVISOR <parent pid> <resolved program> <argv...>`."""


def supervised(program: str, argv: Sequence[str]) -> list[str]:
    """The argv that runs `argv` (its executable resolved to `program`) under the supervisor."""
    return [sys.executable, "-I", "-S", "-c", SUPERVISOR, str(os.getpid()), program, *argv]


@dataclass
class _Request:
    argv: list[str]
    options: dict[str, Any]
    result: Future[subprocess.Popen[bytes]]


class SpawnerClosed(RuntimeError):
    """The spawner no longer starts processes."""


class Spawner:
    """One long-lived thread that performs every Popen of a backend."""

    def __init__(self) -> None:
        self._requests: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._serve, name="pcr-local-spawner", daemon=True
            )
            self._thread.start()

    def popen(self, argv: list[str], **options: Any) -> subprocess.Popen[bytes]:
        """`subprocess.Popen(argv, **options)`, run on the spawner thread; its errors re-raised."""
        request = _Request(argv, options, Future())
        with self._lock:
            if self._closed or self._thread is None:
                raise SpawnerClosed("the local backend is not running")
            self._requests.put(request)
        return request.result.result()

    def close(self) -> None:
        """Stop the thread (after every attempt has ended: their supervisors watch it)."""
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
            self._requests.put(None)
        if thread is not None:
            thread.join()

    def _serve(self) -> None:
        while True:
            request = self._requests.get()
            if request is None:
                return
            if not request.result.set_running_or_notify_cancel():
                continue
            try:
                popen = subprocess.Popen(request.argv, **request.options)
            except BaseException as err:  # noqa: BLE001 - handed to the caller, who re-raises it
                request.result.set_exception(err)
            else:
                request.result.set_result(popen)
