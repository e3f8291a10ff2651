"""The supervisor's bookkeeping without processes: whose is each process, its memory, the wire."""

from __future__ import annotations

import marshal
import os
import struct
from dataclasses import dataclass

import pytest

from pcr_sdk.local._reaper import (
    MAX_FRAME,
    Attempts,
    Frames,
    Proc,
    ProcessTable,
    Stat,
    exit_code,
    frame,
    parse_stat,
)

ME = 100
"""The supervisor's pid in these tables."""


class FakeProc(Proc):
    """A /proc made of dicts; counts the stat reads."""

    def __init__(self) -> None:
        super().__init__("/nonexistent")
        self.stats: dict[int, Stat] = {}
        self.environs: dict[int, frozenset[bytes]] = {}
        self.reads = 0

    def add(self, pid: int, ppid: int, *, session: int = 0, rss: int = 1, start: int = 1) -> None:
        self.stats[pid] = Stat(ppid, session or pid, start, rss, zombie=False)

    def pids(self) -> list[int]:
        return list(self.stats)

    def stat(self, pid: int) -> Stat | None:
        self.reads += 1
        return self.stats.get(pid)

    def environ(self, pid: int) -> frozenset[bytes]:
        return self.environs.get(pid, frozenset())


@dataclass
class Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


MARKER = frozenset({b"AWS_BATCH_JOB_ID=job-a", b"AWS_BATCH_JOB_ATTEMPT=1"})
RUNNING = Attempts(mains={200: "a", 300: "b"}, markers={"a": MARKER, "b": frozenset()})


def _table(proc: FakeProc, clock: Clock | None = None) -> ProcessTable:
    proc.add(1, 0)
    proc.add(ME, 1)
    proc.add(50, 1)  # a stranger
    proc.add(200, ME)  # attempt a's main process (its own session)
    proc.add(300, ME)  # attempt b's
    return ProcessTable(ME, proc, clock or Clock())


def test_descendants_of_a_main_process_are_its_attempts() -> None:
    proc = FakeProc()
    table = _table(proc)
    proc.add(201, 200, session=200)
    proc.add(202, 201, session=202)  # left the session: still a descendant
    proc.add(51, 50)
    table.refresh(RUNNING)
    assert sorted(table.members(["a"])) == [200, 201, 202]
    assert table.members(["b"]) == [300]
    assert 51 not in table.descendants()


def test_an_orphan_is_placed_by_its_session_then_by_its_environment() -> None:
    proc = FakeProc()
    table = _table(proc)
    proc.add(210, ME, session=200)  # its parent exited: re-parented to the subreaper
    proc.add(211, ME, session=211)  # setsid, parent gone, environment inherited
    proc.environs[211] = MARKER | {b"PATH=/bin"}
    table.refresh(RUNNING)
    assert sorted(table.members(["a"])) == [200, 210, 211]


def test_an_orphan_nobody_can_place_dies_once_every_attempt_that_ran_has_ended() -> None:
    proc = FakeProc()
    table = _table(proc)
    proc.add(220, ME, session=220)  # setsid, empty environment, parent gone
    table.refresh(RUNNING)
    assert table.members(["a", "b"]) == [200, 300]
    assert 220 in table.descendants()
    assert table.abandoned(["a", "b"]) == []
    assert table.abandoned(["b"]) == []  # b may still own it
    assert table.abandoned([]) == [220]


def test_an_orphan_found_while_nothing_runs_is_abandoned_at_once() -> None:
    proc = FakeProc()
    table = _table(proc)
    del proc.stats[200], proc.stats[300]
    proc.add(230, ME, session=230)
    table.refresh(Attempts())
    assert table.abandoned([]) == [230]


def test_strangers_are_read_once_and_everything_again_after_a_quiet_second() -> None:
    proc = FakeProc()
    clock = Clock()
    table = _table(proc, clock)
    table.refresh(RUNNING)
    first = proc.reads
    clock.now = 0.5
    table.refresh(RUNNING)
    assert proc.reads - first == 2  # only the two main processes, again for their memory
    proc.stats[50] = Stat(200, 50, 9, 1, zombie=False)  # pid 50 reused by a's child
    clock.now = 0.6
    table.refresh(RUNNING)
    assert 50 not in table.members(["a"])  # not re-read within the second
    clock.now = 2.0
    table.refresh(RUNNING)
    assert 50 in table.members(["a"])


def test_a_child_whose_parent_exited_meanwhile_is_read_again() -> None:
    proc = FakeProc()
    table = _table(proc)
    proc.add(240, 239, session=200)  # 239 is gone by the time 240 is read...

    original = proc.stat
    reads: list[int] = []

    def moved(pid: int) -> Stat | None:
        found = original(pid)
        if pid == 240 and found is not None:
            reads.append(pid)
            if len(reads) > 1:
                # ...and 240 now hangs off the subreaper
                return Stat(ME, found.session, found.start, found.rss_pages, found.zombie)
        return found

    proc.stat = moved  # type: ignore[method-assign]
    table.refresh(RUNNING)
    assert 240 in table.members(["a"])


def test_memory_is_summed_per_attempt_without_zombies() -> None:
    proc = FakeProc()
    table = _table(proc)
    proc.add(201, 200, rss=1000)
    proc.add(202, 200, rss=500)
    proc.stats[203] = Stat(200, 200, 1, 7000, zombie=True)
    proc.add(301, 300, rss=10)
    table.refresh(RUNNING)
    assert table.resident_pages() == {"a": 1 + 1000 + 500, "b": 1 + 10}
    assert 203 not in table.members(["a"])


def test_stat_lines_are_parsed_whatever_the_command_name_holds() -> None:
    line = b"4242 (a) b (c) d) S 17 4242 4200 0 -1 4194560 1 0 0 0 5 6 0 0 20 0 1 0 987 1 321 0"
    assert parse_stat(line) == Stat(ppid=17, session=4200, start=987, rss_pages=321, zombie=False)
    zombie = line.replace(b") S ", b") Z ")
    assert parse_stat(zombie) == Stat(17, 4200, 987, 321, zombie=True)
    assert parse_stat(b"garbage") is None
    assert parse_stat(b"1 (x) S 1") is None
    own = Proc().stat(os.getpid())
    assert own is not None
    assert own.ppid == os.getppid()


def test_frames_survive_any_split() -> None:
    data = frame({"op": "start", "n": 1}) + frame({"op": "exit", "n": 2})
    for cut in range(len(data) + 1):
        frames = Frames()
        assert frames.feed(data[:cut]) + frames.feed(data[cut:]) == [
            {"op": "start", "n": 1},
            {"op": "exit", "n": 2},
        ]


def test_a_frame_too_long_or_not_a_dict_is_refused() -> None:
    with pytest.raises(ValueError, match="bytes"):
        Frames().feed(struct.pack(">I", MAX_FRAME + 1))
    listed = marshal.dumps([1])
    with pytest.raises(ValueError, match="not a marshalled dict"):
        Frames().feed(struct.pack(">I", len(listed)) + listed)
    with pytest.raises(ValueError, match="not a marshalled dict"):
        Frames().feed(struct.pack(">I", 2) + b"\xff\x00")
    with pytest.raises(ValueError, match="unmarshallable"):
        frame({"op": object()})


@dataclass
class Info:
    si_code: int
    si_status: int


def test_a_signal_is_reported_as_128_plus_its_number() -> None:
    assert exit_code(Info(os.CLD_EXITED, 3)) == 3
    assert exit_code(Info(os.CLD_KILLED, 9)) == 137
    assert exit_code(Info(os.CLD_DUMPED, 11)) == 139
