"""What a job asks for (vCPUs, memory, GPUs) and what the local compute environment has.

AWS Batch places a job only on an instance that can hold its resource requirements; a job no
compute environment of its queue can ever hold stays RUNNABLE. The local compute environment is
this machine: by default its CPUs and physical memory and no GPU (pass `gpus=` to emulate some).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Final

logger = logging.getLogger(__name__)

_MEMINFO: Final = Path("/proc/meminfo")
_EPSILON: Final = 1e-9  # fractional vCPUs (Fargate's 0.25, 0.5) add up with rounding errors
_FALLBACK_MEMORY_MIB: Final = 4096


@dataclass(frozen=True)
class Resources:
    """An amount of vCPUs (possibly fractional), memory in MiB and GPUs."""

    vcpus: float = 0.0
    memory_mib: int = 0
    gpus: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(
            self.vcpus + other.vcpus, self.memory_mib + other.memory_mib, self.gpus + other.gpus
        )

    def __sub__(self, other: Resources) -> Resources:
        return Resources(
            self.vcpus - other.vcpus, self.memory_mib - other.memory_mib, self.gpus - other.gpus
        )

    def fits_in(self, room: Resources) -> bool:
        """True when every amount is at most the one of `room`."""
        return (
            self.vcpus <= room.vcpus + _EPSILON
            and self.memory_mib <= room.memory_mib
            and self.gpus <= room.gpus
        )

    def shortfall(self, room: Resources) -> list[str]:
        """What of `self` exceeds `room`, one phrase per resource ("8 GPUs (has 0)")."""
        missing = []
        if self.vcpus > room.vcpus + _EPSILON:
            missing.append(f"{_number(self.vcpus)} vCPUs (has {_number(room.vcpus)})")
        if self.memory_mib > room.memory_mib:
            missing.append(f"{self.memory_mib} MiB of memory (has {room.memory_mib})")
        if self.gpus > room.gpus:
            missing.append(f"{self.gpus} GPUs (has {room.gpus})")
        return missing

    def __str__(self) -> str:
        return f"{_number(self.vcpus)} vCPUs, {self.memory_mib} MiB, {self.gpus} GPUs"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def machine_vcpus(affinity: Callable[[], Collection[int]] | None = None) -> int:
    """The CPUs this process may run on (its affinity where the OS tells, else all)."""
    if affinity is None and hasattr(os, "sched_getaffinity"):
        affinity = lambda: os.sched_getaffinity(0)  # noqa: E731 - a default for the parameter
    if affinity is not None:
        try:
            return max(1, len(affinity()))
        except OSError:
            pass
    return max(1, os.cpu_count() or 1)


def machine_memory_mib(
    meminfo: Path = _MEMINFO, sysconf: Callable[[str], int] | None = None
) -> int:
    """The machine's physical memory in MiB: /proc/meminfo's MemTotal, else sysconf."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024  # the value is in kB
    except (OSError, ValueError, IndexError):
        pass
    read = sysconf if sysconf is not None else getattr(os, "sysconf", None)
    if read is not None:
        try:
            return read("SC_PAGE_SIZE") * read("SC_PHYS_PAGES") // (1024 * 1024)
        except (OSError, ValueError):
            pass
    logger.warning(
        "could not read this machine's memory size; assuming %d MiB", _FALLBACK_MEMORY_MIB
    )
    return _FALLBACK_MEMORY_MIB


def local_capacity(
    vcpus: float | None = None, memory_mib: int | None = None, gpus: int = 0
) -> Resources:
    """The local compute environment: the given amounts, the machine's for those left out."""
    capacity = Resources(
        vcpus=float(machine_vcpus() if vcpus is None else vcpus),
        memory_mib=machine_memory_mib() if memory_mib is None else memory_mib,
        gpus=gpus,
    )
    if not capacity.vcpus > 0:
        raise ValueError(f"vcpus must be positive, got {vcpus}")
    if capacity.memory_mib < 1:
        raise ValueError(f"memory_mib must be positive, got {memory_mib}")
    if capacity.gpus < 0:
        raise ValueError(f"gpus must not be negative, got {gpus}")
    return capacity
