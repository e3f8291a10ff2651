"""Job processes: the command a job runs, its environment, a container's argv, exit statuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pcr_sdk.local._credentials import LocalCredentials
from pcr_sdk.local._process import ContainerRun, LaunchError, LocalLauncher, PullError, exit_status


def _run(**changes: Any) -> ContainerRun:
    fields: dict[str, Any] = {
        "job_id": "abc:2",
        "attempt": 1,
        "image": "repo/worker:1",
        "command": None,
        "definition_command": ("python", "/app/worker.py"),
        "environment": {"S3_JOB_BUCKET": "b", "AWS_BATCH_JOB_ID": "abc:2"},
    }
    fields.update(changes)
    return ContainerRun(**fields)


KEYS = LocalCredentials("PCRLTESTKEY", "local-test-secret")


def _launcher(command: Any = None, **options: Any) -> LocalLauncher:
    return LocalLauncher(
        command,
        endpoint_url="http://127.0.0.1:4566",
        credentials=KEYS,
        region="eu-central-1",
        parent_environ={
            "PATH": "/bin",
            "HOME": "/home/me",
            "PYTHONPATH": "/src",
            "LC_ALL": "C.UTF-8",
            "AWS_ACCESS_KEY_ID": "AKIAREAL",
            "AWS_PROFILE": "prod",
            "DOCKER_HOST": "unix:///run/docker.sock",
            "SECRET_TOKEN": "x",
        },
        **options,
    )


def test_command_precedence() -> None:
    mapping = _launcher({"repo/worker:1": ["python", "local.py"]})
    assert mapping.command(_run()) == ("python", "local.py")
    assert mapping.command(_run(image="other")) == ("python", "/app/worker.py")
    assert mapping.command(_run(command=("python", "override.py"))) == ("python", "override.py")
    assert _launcher(["run-it"]).command(_run()) == ("run-it",)
    with pytest.raises(LaunchError, match="no local command"):
        _launcher().argv_and_env(_run(definition_command=None))


def test_local_process_environment() -> None:
    argv, env = _launcher(["run-it"], extra_env={"EXTRA": "1"}).argv_and_env(_run())
    assert argv == ["run-it"]
    assert env["PATH"] == "/bin"
    assert env["PYTHONPATH"] == "/src"
    assert env["LC_ALL"] == "C.UTF-8"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
    assert env["AWS_ACCESS_KEY_ID"] == KEYS.access_key_id
    assert env["AWS_SECRET_ACCESS_KEY"] == KEYS.secret_access_key
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-central-1"
    assert env["S3_JOB_BUCKET"] == "b"
    assert env["EXTRA"] == "1"
    assert "AWS_PROFILE" not in env
    assert "SECRET_TOKEN" not in env
    assert "DOCKER_HOST" not in env


def _env_file(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def test_docker_argv_ends_options_and_passes_the_environment_in_a_private_file() -> None:
    launcher = _launcher(docker=True, extra_env={"EXTRA": "1"})
    launcher.open()
    try:
        argv, env = launcher.argv_and_env(_run())
        env_file = launcher.env_file(_run())

        assert argv == [
            *("docker", "run", "--rm", "--network", "host", "--name", "pcr-local-abc-2-1"),
            *("--env-file", str(env_file), "--"),
            *("repo/worker:1", "python", "/app/worker.py"),
        ]
        assert KEYS.secret_access_key not in " ".join(argv)  # `ps` shows argv to everyone
        assert env_file.stat().st_mode & 0o777 == 0o600
        assert env_file.parent.stat().st_mode & 0o777 == 0o700
        pairs = _env_file(env_file)
        assert pairs["S3_JOB_BUCKET"] == "b"
        assert pairs["AWS_BATCH_JOB_ID"] == "abc:2"
        assert pairs["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
        assert pairs["AWS_SECRET_ACCESS_KEY"] == KEYS.secret_access_key
        assert pairs["EXTRA"] == "1"
        assert "PATH" not in pairs  # the image's own PATH applies inside the container
        assert env["DOCKER_HOST"] == "unix:///run/docker.sock"  # for the docker CLI itself
        assert "AWS_ACCESS_KEY_ID" not in env
        no_command, _ = launcher.argv_and_env(_run(attempt=2, definition_command=None))
        assert no_command[-2:] == ["--", "repo/worker:1"]  # the image's own CMD
    finally:
        launcher.close()
    assert not env_file.parent.exists()


@pytest.mark.parametrize(
    "image",
    ["--privileged", "-v=/:/host", "Upper", "repo/-x", "a b", "x" * 256, "repo:tag:tag", ""],
)
def test_an_image_outside_dockers_reference_grammar_never_reaches_docker(image: str) -> None:
    launcher = _launcher(docker=True)
    launcher.open()
    try:
        with pytest.raises(PullError, match="invalid reference format") as raised:
            launcher.argv_and_env(_run(image=image))
        assert raised.value.reason == "CannotPullContainerError"
        assert list(launcher.env_file(_run()).parent.iterdir()) == []  # no env file written
    finally:
        launcher.close()


@pytest.mark.parametrize(
    "image",
    ["python:3.11-slim", "pcr-local", "registry.example:5000/team/worker_x:v1.2",
     "ubuntu@sha256:" + "a" * 64, "[::1]:5000/img"],
)  # fmt: skip
def test_docker_references_that_follow_the_grammar_are_kept(image: str) -> None:
    launcher = _launcher(docker=True)
    launcher.open()
    try:
        argv, _ = launcher.argv_and_env(_run(image=image, definition_command=None))
        assert argv[-2:] == ["--", image]
    finally:
        launcher.close()


def test_a_line_break_in_a_variable_cannot_go_to_docker() -> None:
    launcher = _launcher(docker=True)
    launcher.open()
    try:
        with pytest.raises(LaunchError, match="line break"):
            launcher.argv_and_env(_run(environment={"BAD": "a\nb"}))
    finally:
        launcher.close()


def test_exit_status_of_a_killed_process() -> None:
    assert exit_status(-9) == 137
    assert exit_status(3) == 3
