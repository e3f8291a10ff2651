"""What reaches a container runtime: Docker's reference grammar, the private env file."""

from __future__ import annotations

from pathlib import Path

import pytest

from pcr_sdk.local._docker import (
    EnvironmentFileError,
    ImageReferenceError,
    check_reference,
    write_env_file,
)


@pytest.mark.parametrize("image", ["--privileged", "-v=/:/host", "Upper", "a b", "x" * 256, ""])
def test_what_is_not_an_image_reference_is_refused(image: str) -> None:
    with pytest.raises(ImageReferenceError, match="invalid reference format"):
        check_reference(image)


def test_the_env_file_is_new_and_private(tmp_path: Path) -> None:
    path = write_env_file(tmp_path / "env", {"A": "1", "B": "x=y"})
    assert path.read_text() == "A=1\nB=x=y\n"
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(FileExistsError):
        write_env_file(path, {"A": "2"})


@pytest.mark.parametrize("environment", [{"A": "1\n--privileged"}, {"A": "\r"}, {"A B": "1"}])
def test_what_an_env_file_cannot_carry_is_refused(
    tmp_path: Path, environment: dict[str, str]
) -> None:
    with pytest.raises(EnvironmentFileError):
        write_env_file(tmp_path / "env", environment)
    assert not (tmp_path / "env").exists()
