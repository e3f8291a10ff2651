"""The local backend's supervisor: one process per backend that starts, watches and ends every
process-mode attempt with all the processes it started. Standard library only.

`LocalBackend` starts it once (`python -I -S _reaper.py <parent pid> <sample seconds> <fd>`, in
a session of its own) and talks to it over a socket pair: 4-byte length-prefixed frames of
`marshal`ed dicts (both ends are the same interpreter, and no other process holds the pair),
the write end of an attempt's output pipe passed along with its `start` frame (SCM_RIGHTS).

- **Starting** an attempt is one `posix_spawn` (the job in a new session, stdout and stderr on
  its output pipe, stdin on /dev/null): no interpreter starts per attempt.
- **Whose is a process.** On Linux the supervisor is a child subreaper
  (`PR_SET_CHILD_SUBREAPER`): a process a job leaves behind, even one that left the job's
  session with `setsid` and whose parent exited, is re-parented to the supervisor, never to
  init. `ProcessTable` reads /proc to tell which attempt each descendant belongs to: the
  attempt whose main process it descends from; for an orphan, the attempt whose session it is
  in, else the one whose `AWS_BATCH_JOB_ID` and `AWS_BATCH_JOB_ATTEMPT` its environment holds;
  an orphan none of that tells (it cleared its environment and left the session) belongs to
  every attempt running when it was found, and is killed once they have all ended.
- **Ending.** When an attempt's main process exits (seen as a zombie, not yet reaped, so its
  process group cannot be reused), every other process of the attempt is SIGKILLed, round after
  round until none is left; then the exit is reported: the exit code, or 128 + n for a signal n,
  as Docker and ECS report it.
- **Memory.** Every `sample` seconds while attempts run, the resident memory (RSS) of each
  attempt's processes is summed; an attempt over its limit is SIGKILLed whole and reported
  `oom` (exit code 137).
- **The backend's death.** The supervisor asks for SIGTERM when its parent dies
  (`PR_SET_PDEATHSIG`, Linux) and also sees its control socket close (everywhere); either way it
  SIGKILLs every process of every attempt, runs the removal commands of the containers it was
  told about, and exits.

Without /proc (macOS) there is no subreaper and no memory sampling: an attempt's leftovers are
killed by process group only.
"""

from __future__ import annotations

import ctypes
import marshal
import os
import selectors
import signal
import socket
import struct
import sys
import time

TYPE_CHECKING = False  # `typing` itself costs this process's start an import
if TYPE_CHECKING:  # it starts once per backend: nothing heavier than what it uses at run time
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any, Final, TypeAlias

    Message: TypeAlias = dict[str, Any]

PR_SET_PDEATHSIG: Final = 1
PR_SET_CHILD_SUBREAPER: Final = 36
PARENT_DEATH_SIGNAL: Final = signal.SIGTERM
STOP_SIGNALS: Final = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
KILL_ROUNDS: Final = 40
"""SIGKILL rounds over an attempt's processes (a process may fork while the first lands)."""
SHUTDOWN_SECONDS: Final = 1.5
"""How long the supervisor goes on killing and reaping when the backend is gone."""
CONTAINER_REMOVAL_SECONDS: Final = 20.0
STALE_TABLE_SECONDS: Final = 1.0
"""After this long without a refresh, the table re-reads every process (a pid may be reused)."""
_HEADER: Final = struct.Struct(">I")
MAX_FRAME: Final = 64 * 1024 * 1024
_MAX_FDS: Final = 16
_RECV_BYTES: Final = 256 * 1024
_INT: Final = struct.Struct("i")
ORPHANED: Final = frozenset({""})
"""The candidates of an orphan found while no attempt ran: none that is still running."""


# -- the wire ------------------------------------------------------------------------------------


def frame(message: Mapping[str, object]) -> bytes:
    """One message as sent: its length (4 bytes, big-endian), then the marshalled dict.

    Args:
        message: the dict to send.

    Returns:
        The frame's bytes.

    Raises:
        ValueError: a value marshal cannot write (only str, int, bool, None, lists, dicts go).
    """
    body = marshal.dumps(dict(message))
    return _HEADER.pack(len(body)) + body


class Frames:
    """Bytes in, whole messages out."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Message]:
        """Add `data`; the messages it completes.

        Args:
            data: bytes as read from the socket.

        Returns:
            The messages completed so far, in order.

        Raises:
            ValueError: a frame longer than `MAX_FRAME`, or not a marshalled dict.
        """
        self._buffer += data
        messages: list[Message] = []
        while len(self._buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self._buffer)
            if size > MAX_FRAME:
                raise ValueError(f"a frame of {size} bytes")
            end = _HEADER.size + size
            if len(self._buffer) < end:
                break
            try:
                message = marshal.loads(bytes(self._buffer[_HEADER.size : end]))  # noqa: S302 - from our own end of a private socket pair
            except (EOFError, TypeError, ValueError) as err:
                raise ValueError(f"a frame that is not a marshalled dict: {err}") from err
            del self._buffer[:end]
            if not isinstance(message, dict):
                raise ValueError("a frame that is not a marshalled dict")
            messages.append(message)
        return messages


def receive(sock: socket.socket) -> tuple[bytes, list[int]]:
    """What the socket holds now: bytes (empty at EOF) and the descriptors passed with them."""
    flags = getattr(socket, "MSG_CMSG_CLOEXEC", 0)
    data, ancillary, _, _ = sock.recvmsg(
        _RECV_BYTES, socket.CMSG_SPACE(_MAX_FDS * _INT.size), flags
    )
    fds: list[int] = []
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            usable = len(payload) - len(payload) % _INT.size
            fds.extend(_INT.unpack_from(payload, offset)[0] for offset in range(0, usable, 4))
    for fd in fds:
        os.set_inheritable(fd, False)
    return data, fds


class Record:
    """Fields by `__slots__`, compared and shown by them (dataclasses would import `inspect`)."""

    __slots__: tuple[str, ...] = ()

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._fields() == other._fields()  # type: ignore[attr-defined,unused-ignore]

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({shown})"


# -- /proc -----------------------------------------------------------------------------------------


class Stat(Record):
    """What the supervisor reads of /proc/<pid>/stat. `start` is the start time in clock ticks
    after boot: with the pid, it names one process for good."""

    __slots__ = ("ppid", "rss_pages", "session", "start", "zombie")

    def __init__(self, ppid: int, session: int, start: int, rss_pages: int, zombie: bool) -> None:
        self.ppid = ppid
        self.session = session
        self.start = start
        self.rss_pages = rss_pages
        self.zombie = zombie


def parse_stat(data: bytes) -> Stat | None:
    """/proc/<pid>/stat's fields (the command name in parentheses may hold anything)."""
    close = data.rfind(b")")
    if close < 0:
        return None
    fields = data[close + 2 :].split()
    try:
        return Stat(
            ppid=int(fields[1]),
            session=int(fields[3]),
            start=int(fields[19]),
            rss_pages=int(fields[21]),
            zombie=fields[0] in (b"Z", b"X"),
        )
    except (IndexError, ValueError):
        return None


class Proc:
    """Reads processes from a procfs mount."""

    def __init__(self, root: str = "/proc") -> None:
        self.root = root

    def available(self) -> bool:
        return os.path.exists(os.path.join(self.root, "self", "stat"))

    def pids(self) -> list[int]:
        return [int(name) for name in os.listdir(self.root) if name.isdigit()]

    def stat(self, pid: int) -> Stat | None:
        try:
            with open(f"{self.root}/{pid}/stat", "rb") as file:
                return parse_stat(file.read())
        except OSError:
            return None

    def environ(self, pid: int) -> frozenset[bytes]:
        try:
            with open(f"{self.root}/{pid}/environ", "rb") as file:
                return frozenset(file.read().split(b"\0"))
        except OSError:
            return frozenset()


class Entry(Record):
    """One process the table knows: whose it is (`owner`, the attempt's key; None for one no
    attempt started, or one nobody can place, whose `candidates` are then the attempts that
    were running when it was found), and its last resident size."""

    __slots__ = ("candidates", "owner", "rss_pages", "start", "zombie")

    def __init__(
        self,
        start: int,
        owner: str | None,
        candidates: frozenset[str] = frozenset(),
        rss_pages: int = 0,
        zombie: bool = False,
    ) -> None:
        self.start = start
        self.owner = owner
        self.candidates = candidates
        self.rss_pages = rss_pages
        self.zombie = zombie


class Attempts(Record):
    """What the table needs to know of the running attempts: `mains`, main process id ->
    attempt key (its session id too: each starts a session); `markers`, attempt key -> the
    `NAME=value` entries only its processes' environments hold; `helpers`, children of the
    supervisor that are its own (container removal commands)."""

    __slots__ = ("helpers", "mains", "markers")

    def __init__(
        self,
        mains: Mapping[int, str] | None = None,
        markers: Mapping[str, frozenset[bytes]] | None = None,
        helpers: frozenset[int] = frozenset(),
    ) -> None:
        self.mains: Mapping[int, str] = mains or {}
        self.markers: Mapping[str, frozenset[bytes]] = markers or {}
        self.helpers = helpers


class ProcessTable:
    """Which attempt each process descending from the supervisor (`me`) belongs to."""

    _MAX_DEPTH: Final = 256

    def __init__(self, me: int, proc: Proc, clock: Callable[[], float] = time.monotonic) -> None:
        self._me = me
        self._proc = proc
        self._clock = clock
        self._known: dict[int, Entry] = {}
        self._refreshed: float | None = None

    def refresh(self, attempts: Attempts) -> None:
        """Forget the processes gone, learn the new ones, re-read those of attempts."""
        now = self._clock()
        thorough = self._refreshed is None or now - self._refreshed > STALE_TABLE_SECONDS
        self._refreshed = now
        listed = self._proc.pids()
        present = set(listed)
        for pid in [pid for pid in self._known if pid not in present]:
            del self._known[pid]
        for pid in listed:
            entry = self._known.get(pid)
            foreign = entry is not None and entry.owner is None and not entry.candidates
            if foreign and not thorough:
                continue  # a process no attempt started never becomes one's
            self._learn(pid, attempts, 0)

    def _learn(self, pid: int, attempts: Attempts, depth: int) -> Entry | None:
        stat = self._proc.stat(pid)
        if stat is None:
            self._known.pop(pid, None)
            return None
        entry = self._known.get(pid)
        if entry is not None and entry.start == stat.start:
            entry.rss_pages = stat.rss_pages
            entry.zombie = stat.zombie
            return entry
        owner, candidates = self._owner(pid, stat, attempts, depth)
        entry = Entry(stat.start, owner, candidates, stat.rss_pages, stat.zombie)
        self._known[pid] = entry
        return entry

    def _owner(
        self, pid: int, stat: Stat, attempts: Attempts, depth: int
    ) -> tuple[str | None, frozenset[str]]:
        if pid == self._me or pid in attempts.helpers or pid in attempts.mains:
            return attempts.mains.get(pid), frozenset()
        if stat.ppid == self._me:  # an orphan, re-parented to the subreaper
            return self._orphan_owner(pid, stat, attempts)
        if stat.ppid <= 1 or depth >= self._MAX_DEPTH:
            return None, frozenset()
        parent = self._known.get(stat.ppid)
        if parent is None or parent.start > stat.start:  # unknown, or a reused pid
            parent = self._learn(stat.ppid, attempts, depth + 1)
        if parent is None:  # the parent exited meanwhile: this one was re-parented
            again = self._proc.stat(pid)
            if again is None or again.ppid == stat.ppid:
                return None, frozenset()
            return self._owner(pid, again, attempts, depth + 1)
        return parent.owner, parent.candidates

    def _orphan_owner(
        self, pid: int, stat: Stat, attempts: Attempts
    ) -> tuple[str | None, frozenset[str]]:
        """Its session's attempt, else the attempt its environment names, else any running."""
        owner = attempts.mains.get(stat.session)
        if owner is None:
            environment = self._proc.environ(pid)
            owner = next(
                (
                    key
                    for key, marker in attempts.markers.items()
                    if marker and marker <= environment
                ),
                None,
            )
        if owner is not None:
            return owner, frozenset()
        return None, frozenset(attempts.mains.values()) or ORPHANED

    def members(self, keys: Iterable[str]) -> list[int]:
        """The live (not zombie) processes of these attempts."""
        wanted = set(keys)
        return [
            pid
            for pid, entry in self._known.items()
            if not entry.zombie and entry.owner is not None and entry.owner in wanted
        ]

    def abandoned(self, running: Iterable[str]) -> list[int]:
        """Orphans nobody can place whose candidate attempts have all ended."""
        alive = set(running)
        return [
            pid
            for pid, entry in self._known.items()
            if entry.candidates and not entry.zombie and not entry.candidates & alive
        ]

    def descendants(self) -> list[int]:
        """Every live process of any attempt, placed or not."""
        return [
            pid
            for pid, entry in self._known.items()
            if not entry.zombie and (entry.owner is not None or entry.candidates)
        ]

    def resident_pages(self) -> dict[str, int]:
        """The summed resident pages of each attempt's processes."""
        usage: dict[str, int] = {}
        for entry in self._known.values():
            if entry.owner is not None and not entry.zombie:
                usage[entry.owner] = usage.get(entry.owner, 0) + entry.rss_pages
        return usage


# -- the supervisor ------------------------------------------------------------------------------


def exit_code(info: Any) -> int:
    """A waitid result as a container reports it: the exit status, or 128 + the signal."""
    if info.si_code == os.CLD_EXITED:
        return int(info.si_status)
    return 128 + int(info.si_status)


HAVE_WAITID: Final = hasattr(os, "waitid")
"""Linux has it; macOS only from Python 3.13."""


class Exited(Record):
    """A child that exited: its exit code (128 + n for a signal n), and whether it was reaped
    already (no waitid: its process group may be gone with it)."""

    __slots__ = ("code", "pid", "reaped")

    def __init__(self, pid: int, code: int, reaped: bool) -> None:
        self.pid = pid
        self.code = code
        self.reaped = reaped


def next_exited(*, peek: bool = HAVE_WAITID) -> Exited | None:
    """A child that exited, if any: only looked at (left a zombie) with `peek`, else reaped."""
    try:
        if peek:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            if info is None or info.si_pid == 0:
                return None
            return Exited(info.si_pid, exit_code(info), reaped=False)
        pid, status = os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return None
    if pid == 0:
        return None
    code = os.waitstatus_to_exitcode(status)
    return Exited(pid, 128 - code if code < 0 else code, reaped=True)


class Running(Record):
    """An attempt whose main process has not been reaped yet."""

    __slots__ = ("key", "marker", "memory_bytes", "oom", "pid")

    def __init__(
        self, key: str, pid: int, memory_bytes: int | None, marker: frozenset[bytes]
    ) -> None:
        self.key = key
        self.pid = pid
        self.memory_bytes = memory_bytes
        self.marker = marker
        self.oom = False


def kill(pid: int, number: int) -> None:
    """Signal one process; one that is gone or not ours is let be."""
    try:  # noqa: SIM105 - contextlib costs this process's start an import
        os.kill(pid, number)
    except (ProcessLookupError, PermissionError):
        pass


def kill_group(pgid: int, number: int) -> None:
    """Signal a process group; one that is gone or not ours is let be."""
    try:  # noqa: SIM105 - contextlib costs this process's start an import
        os.killpg(pgid, number)
    except (ProcessLookupError, PermissionError):
        pass


def _prctl(option: int, value: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(option, value, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _ignored_signals() -> list[int]:
    """Signals this process ignores (Python ignores SIGPIPE and SIGXFSZ): a job gets defaults."""
    found: list[int] = []
    for number in signal.valid_signals():
        if number in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            if signal.getsignal(number) == signal.SIG_IGN:
                found.append(number)
        except (OSError, ValueError):
            continue
    return found


def spawn(
    program: str, argv: list[str], env: Mapping[str, str], cwd: str | None, output: int
) -> int:
    """Start one attempt's main process in a new session; its pid.

    Args:
        program: the executable, resolved.
        argv: its argv.
        env: its environment.
        cwd: its working directory (None: this one).
        output: the descriptor its stdout and stderr go to.

    Returns:
        The pid of the main process.

    Raises:
        OSError: the program or the working directory cannot be used.
    """
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_DUP2, output, 1),
        (os.POSIX_SPAWN_DUP2, output, 2),
    ]
    back = os.open(".", os.O_RDONLY) if cwd else None
    try:
        if cwd:
            os.chdir(cwd)  # posix_spawn has no chdir; this process is single-threaded
        try:
            return os.posix_spawn(
                program, argv, env, file_actions=actions, setsid=True, setsigdef=_DEFAULTS
            )
        except NotImplementedError:  # no POSIX_SPAWN_SETSID: a process group of its own
            return os.posix_spawn(
                program, argv, env, file_actions=actions, setpgroup=0, setsigdef=_DEFAULTS
            )
    finally:
        if back is not None:
            os.fchdir(back)
            os.close(back)


_DEFAULTS: Final = _ignored_signals()


class Supervisor:
    """The supervisor's loop over its control socket, its children and the sampling timer."""

    def __init__(
        self,
        control: socket.socket,
        parent: int,
        sample_seconds: float,
        proc: Proc | None,
        *,
        subreaper: bool,
        parent_signal: bool,
    ) -> None:
        self._control = control
        self._parent = parent
        self._sample_seconds = sample_seconds
        self._proc = proc
        self._table = ProcessTable(os.getpid(), proc) if proc is not None else None
        self._subreaper = subreaper
        self._parent_signal = parent_signal
        self._frames = Frames()
        self._fds: list[int] = []
        self._running: dict[int, Running] = {}
        self._ended: dict[int, int] = {}
        """Main processes reaped (without waitid) before their attempt was ended: their codes."""
        self._by_key: dict[str, Running] = {}
        self._containers: dict[str, list[str]] = {}
        self._helpers: set[int] = set()
        self._started_any = False
        self._stop = False
        self._page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        self._next_sample: float | None = None
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_write, False)
        os.set_blocking(self._wake_read, False)

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> None:
        for number in STOP_SIGNALS:
            signal.signal(number, self._on_stop)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(self._wake_write)
        self._send(
            {
                "op": "ready",
                "pid": os.getpid(),
                "subreaper": self._subreaper,
                "memory": self._table is not None,
            }
        )
        if os.getppid() != self._parent:  # the parent died before the signal was armed
            self._stop = True
        selector = selectors.DefaultSelector()
        selector.register(self._control, selectors.EVENT_READ, "control")
        selector.register(self._wake_read, selectors.EVENT_READ, "wake")
        while not self._stop:
            for key, _ in selector.select(self._timeout()):
                if key.data == "control":
                    self._read_control()
                else:
                    self._drain_wakeups()
            self._reap()
            if not self._parent_signal and os.getppid() != self._parent:
                self._stop = True
            if self._next_sample is not None and time.monotonic() >= self._next_sample:
                self._sample()
        self._shutdown()

    def _on_stop(self, *_: object) -> None:
        self._stop = True

    def _timeout(self) -> float | None:
        waits: list[float] = []
        if self._next_sample is not None:
            waits.append(max(0.0, self._next_sample - time.monotonic()))
        if not self._parent_signal:
            waits.append(0.5)
        return min(waits) if waits else None

    def _drain_wakeups(self) -> None:
        try:
            while os.read(self._wake_read, 512):
                pass
        except BlockingIOError:
            pass

    def _read_control(self) -> None:
        try:
            data, fds = receive(self._control)
        except OSError:
            data, fds = b"", []
        self._fds.extend(fds)
        if not data:
            self._stop = True  # the backend closed its end, or died
            return
        try:
            messages = self._frames.feed(data)
        except ValueError:
            self._stop = True
            return
        for message in messages:
            self._handle(message)

    def _send(self, message: Mapping[str, object]) -> None:
        try:
            self._control.sendall(frame(message))
        except OSError:
            self._stop = True

    # -- requests --------------------------------------------------------------------------

    def _handle(self, message: Message) -> None:
        op = message.get("op")
        if op == "start":
            self._start(message)
        elif op == "signal":
            self._signal(str(message["key"]), int(message["signal"]))
        elif op == "kill":
            found = self._by_key.get(str(message["key"]))
            if found is not None:
                self._sweep({found.key}, include_main=True)
        elif op == "container":
            self._containers[str(message["key"])] = [str(part) for part in message["remove"]]
        elif op == "container-done":
            self._containers.pop(str(message["key"]), None)
        elif op == "close":
            self._stop = True

    def _start(self, message: Message) -> None:
        key = str(message["key"])
        output = self._fds.pop(0) if self._fds else None
        if output is None:
            self._send({"op": "failed", "key": key, "error": "no output pipe was passed"})
            return
        argv = [str(part) for part in message["argv"]]
        cwd = message.get("cwd")
        try:
            if cwd and not os.path.isdir(cwd):
                self._send({"op": "failed", "key": key, "error": f"no directory {cwd}"})
                return
            pid = spawn(
                str(message["program"]),
                argv,
                {str(k): str(v) for k, v in message["env"].items()},
                cwd,
                output,
            )
        except OSError as err:
            self._send({"op": "failed", "key": key, "error": f"{argv[0]}: {err.strerror or err}"})
            return
        finally:
            os.close(output)
        memory = message.get("memory_bytes")
        running = Running(
            key,
            pid,
            int(memory) if memory else None,
            frozenset(str(entry).encode() for entry in message.get("marker", [])),
        )
        self._running[pid] = running
        self._by_key[key] = running
        self._started_any = True
        needs_sampling = running.memory_bytes is not None and self._table is not None
        if needs_sampling and self._next_sample is None:
            self._next_sample = time.monotonic() + self._sample_seconds
        self._send({"op": "started", "key": key, "pid": pid})

    def _signal(self, key: str, number: int) -> None:
        found = self._by_key.get(key)
        if found is None:
            return
        kill_group(found.pid, number)  # its main process is not reaped yet: the group is its

    # -- ending attempts -------------------------------------------------------------------

    def _attempts(self) -> Attempts:
        return Attempts(
            mains={pid: running.key for pid, running in self._running.items()},
            markers={running.key: running.marker for running in self._running.values()},
            helpers=frozenset(self._helpers),
        )

    def _sweep(self, keys: set[str], *, include_main: bool) -> None:
        """SIGKILL every process of these attempts, until none is left (or the rounds end)."""
        mains = {r.pid for r in self._running.values() if r.key in keys}
        if include_main or self._table is None:
            for pid in mains:
                kill_group(pid, signal.SIGKILL)
        if self._table is None:
            return
        for round_ in range(KILL_ROUNDS):
            self._table.refresh(self._attempts())
            victims = [
                pid
                for pid in self._table.members(keys) + self._table.abandoned(self._live_keys(keys))
                if include_main or pid not in mains
            ]
            if not victims:
                return
            for pid in victims:
                kill(pid, signal.SIGKILL)
            self._reap_orphans()
            time.sleep(min(0.001 * (round_ + 1), 0.05))

    def _live_keys(self, ending: set[str]) -> set[str]:
        return {running.key for running in self._running.values() if running.key not in ending}

    def _reap_orphans(self) -> None:
        """Reap children that are not attempts' main processes (those are reaped in `_end`)."""
        while (exited := next_exited()) is not None:
            if exited.pid in self._running:
                if not exited.reaped:
                    return
                self._ended[exited.pid] = exited.code  # ended by `_reap`
            elif not exited.reaped:
                self._reap_one(exited.pid)
            self._helpers.discard(exited.pid)

    def _reap_one(self, pid: int) -> None:
        try:  # noqa: SIM105 - contextlib costs this process's start an import
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        self._helpers.discard(pid)

    def _reap(self) -> None:
        while self._ended:
            pid, code = self._ended.popitem()
            self._end(self._running[pid], code, reaped=True)
        while (exited := next_exited()) is not None:
            running = self._running.get(exited.pid)
            if running is not None:
                self._end(running, exited.code, reaped=exited.reaped)
            elif not exited.reaped:
                self._reap_one(exited.pid)
            self._helpers.discard(exited.pid)
            while self._ended:  # reaped meanwhile by a sweep (no waitid)
                pid, code = self._ended.popitem()
                self._end(self._running[pid], code, reaped=True)

    def _end(self, running: Running, code: int, *, reaped: bool) -> None:
        """The main process exited: kill the rest, reap it, report."""
        self._sweep({running.key}, include_main=reaped)  # reaped: its group may be left
        if not reaped:
            self._reap_one(running.pid)
        del self._running[running.pid]
        self._by_key.pop(running.key, None)
        if not any(r.memory_bytes for r in self._running.values()):
            self._next_sample = None
        self._send({"op": "exit", "key": running.key, "code": code, "oom": running.oom})

    def _sample(self) -> None:
        assert self._table is not None
        self._next_sample = time.monotonic() + self._sample_seconds
        self._table.refresh(self._attempts())
        usage = self._table.resident_pages()
        for running in list(self._running.values()):
            limit = running.memory_bytes
            if limit is None or running.oom:
                continue
            if usage.get(running.key, 0) * self._page > limit:
                running.oom = True
                self._sweep({running.key}, include_main=True)
        leftovers = self._table.abandoned(r.key for r in self._running.values())
        for pid in leftovers:
            kill(pid, signal.SIGKILL)

    # -- the backend is gone ---------------------------------------------------------------

    def _shutdown(self) -> None:
        """Kill every process of every attempt and remove the containers; then exit."""
        deadline = time.monotonic() + SHUTDOWN_SECONDS
        for pid in list(self._running):
            kill_group(pid, signal.SIGKILL)
        removals = [self._spawn_helper(argv) for argv in self._containers.values()]
        while self._started_any and time.monotonic() < deadline:
            if self._table is not None:
                self._table.refresh(self._attempts())
                for pid in self._table.descendants():
                    kill(pid, signal.SIGKILL)
            self._reap_all_but(set(removals))
            if not self._children_left(set(removals)):
                break
            time.sleep(0.01)
        self._wait_helpers(removals)

    def _spawn_helper(self, argv: list[str]) -> int:
        try:
            with open(os.devnull, "wb") as null:
                fd = null.fileno()
                pid = os.posix_spawnp(
                    argv[0],
                    argv,
                    dict(os.environ),
                    file_actions=[(os.POSIX_SPAWN_DUP2, fd, 1), (os.POSIX_SPAWN_DUP2, fd, 2)],
                )
        except OSError:
            return -1
        self._helpers.add(pid)
        return pid

    def _reap_all_but(self, keep: set[int]) -> None:
        while (exited := next_exited()) is not None:
            if exited.pid in keep and not exited.reaped:
                return
            if not exited.reaped:
                self._reap_one(exited.pid)
            self._running.pop(exited.pid, None)

    def _children_left(self, keep: set[int]) -> bool:
        if self._table is None:
            return bool(self._running)
        return bool(self._table.descendants()) or bool(set(self._running) - keep)

    def _wait_helpers(self, pids: list[int]) -> None:
        deadline = time.monotonic() + CONTAINER_REMOVAL_SECONDS
        for pid in pids:
            if pid < 0:
                continue
            while time.monotonic() < deadline:
                try:
                    done, _ = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    break
                if done:
                    break
                time.sleep(0.02)


def main(argv: list[str]) -> int:
    """`_reaper.py <parent pid> <sample seconds> <control fd>`."""
    parent, sample_seconds, fd = int(argv[1]), float(argv[2]), int(argv[3])
    os.set_inheritable(fd, False)
    control = socket.socket(fileno=fd)
    parent_signal = _prctl(PR_SET_PDEATHSIG, PARENT_DEATH_SIGNAL)
    subreaper = _prctl(PR_SET_CHILD_SUBREAPER, 1)
    proc = Proc()
    supervisor = Supervisor(
        control,
        parent,
        sample_seconds,
        proc if subreaper and proc.available() else None,
        subreaper=subreaper,
        parent_signal=parent_signal,
    )
    supervisor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
