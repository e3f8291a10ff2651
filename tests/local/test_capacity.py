"""The local compute environment: the machine's capacity, and what fits in it."""

from __future__ import annotations

from pathlib import Path

from pcr_sdk.local._capacity import Resources, local_capacity, machine_memory_mib, machine_vcpus


def test_machine_capacity_is_read_and_can_be_injected(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemFree:  1 kB\nMemTotal:       2097152 kB\n")
    assert machine_memory_mib(meminfo) == 2048
    pages = {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": 262_144}
    assert machine_memory_mib(tmp_path / "missing", sysconf=pages.__getitem__) == 1024
    assert machine_vcpus(affinity=lambda: {0, 2, 5}) == 3
    assert local_capacity(vcpus=3, memory_mib=512, gpus=2) == Resources(3, 512, 2)
    defaults = local_capacity()
    assert defaults.vcpus >= 1
    assert defaults.memory_mib > 0
    assert defaults.gpus == 0


def test_resources_fit_and_say_what_is_short() -> None:
    room = Resources(vcpus=2, memory_mib=1024, gpus=0)
    assert Resources(0.5, 512, 0).fits_in(room)
    assert (Resources(0.25, 0, 0) + Resources(0.25, 0, 0) + Resources(1.5, 0, 0)).fits_in(room)
    assert not Resources(1, 0, 1).fits_in(room)
    assert Resources(4, 2048, 1).shortfall(room) == [
        "4 vCPUs (has 2)",
        "2048 MiB of memory (has 1024)",
        "1 GPUs (has 0)",
    ]
