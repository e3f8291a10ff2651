"""How a backend runs attempts (`ExecutionSettings`): checked once, before anything starts."""

from __future__ import annotations

from typing import Any

import pytest

from pcr_sdk.local._settings import ExecutionSettings, check_command


def test_commands_become_tuples_one_or_per_image() -> None:
    assert check_command(["python", "w.py"]) == ("python", "w.py")
    assert check_command({"img": ["run"]}) == {"img": ("run",)}
    assert check_command(None) is None


@pytest.mark.parametrize(
    ("command", "error"),
    [("python w.py", TypeError), ([b"x"], TypeError), ([], ValueError), ({"img": []}, ValueError)],
)
def test_a_command_that_is_not_an_argv_is_refused(command: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        check_command(command)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"timeout_scale": 0}, "timeout_scale"),
        ({"grace_seconds": -1}, "grace_seconds"),
        ({"memory_sample_seconds": float("nan")}, "memory_sample_seconds"),
        ({"containers": "lxc"}, "lxc"),
    ],
)
def test_settings_out_of_range_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ExecutionSettings.of(["x"], **settings)


def test_checked_settings_are_plain_values() -> None:
    settings = ExecutionSettings.of(
        ["x"], containers="podman", cwd=".", extra_env={"A": "1"}, timeout_scale=1
    )
    assert settings.containers == "podman"
    assert settings.cwd == "."
    assert settings.timeout_scale == 1.0
    assert dict(settings.extra_env) == {"A": "1"}
