"""`LocalBackend`: its public surface, arguments and compute environment, and its log directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import pcr_sdk.local
from pcr_sdk.local import LocalBackend


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"vcpus": 0}, "vcpus"),
        ({"memory_mib": 0}, "memory_mib"),
        ({"gpus": -1}, "gpus"),
        ({"grace_seconds": -1}, "grace_seconds"),
    ],
)
def test_backend_refuses_an_impossible_compute_environment(
    arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        LocalBackend(["x"], **arguments)


def test_backend_shows_its_compute_environment() -> None:
    backend = LocalBackend(["x"], vcpus=6, memory_mib=2048, gpus=1, grace_seconds=5)
    assert (backend.vcpus, backend.memory_mib, backend.gpus) == (6, 2048, 1)
    assert backend.grace_seconds == 5
    assert backend.max_parallel is None
    with pytest.raises(RuntimeError, match="not running"):
        backend.reclaim_host("job")


def test_public_surface() -> None:
    assert "LocalBackend" in pcr_sdk.local.__all__
    public = {name for name in vars(pcr_sdk.local) if not name.startswith("_")}
    assert public - {"annotations"} == set(pcr_sdk.local.__all__)


def test_constructor_checks_its_arguments() -> None:
    with pytest.raises(TypeError, match="argv list"):
        LocalBackend("python worker.py")
    with pytest.raises(ValueError, match="max_parallel"):
        LocalBackend(["x"], max_parallel=0)
    with pytest.raises(ValueError, match="timeout_scale"):
        LocalBackend(["x"], timeout_scale=0)
    with pytest.raises(RuntimeError, match="not running"):
        _ = LocalBackend(["x"]).clients


@pytest.mark.subprocess
def test_the_temporary_log_directory_goes_and_a_data_dir_stays(tmp_path: Path) -> None:
    with LocalBackend() as backend:
        temporary = backend.log_dir
        assert temporary.is_dir()
    assert not temporary.exists()
    with LocalBackend(data_dir=tmp_path / "data") as backend:
        assert backend.log_dir == tmp_path / "data" / "logs"
    assert (tmp_path / "data" / "logs").is_dir()
