"""Job processes: the command a job runs, its environment, a container's argv, exit statuses."""

from __future__ import annotations

from typing import Any

import pytest

from pcr_sdk.local._process import ContainerRun, LaunchError, LocalLauncher, exit_status


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


def _launcher(command: Any = None, **options: Any) -> LocalLauncher:
    return LocalLauncher(
        command,
        endpoint_url="http://127.0.0.1:4566",
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
    assert env["AWS_ACCESS_KEY_ID"] != "AKIAREAL"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-central-1"
    assert env["S3_JOB_BUCKET"] == "b"
    assert env["EXTRA"] == "1"
    assert "AWS_PROFILE" not in env
    assert "SECRET_TOKEN" not in env
    assert "DOCKER_HOST" not in env


def test_docker_argv() -> None:
    argv, env = _launcher(docker=True, extra_env={"EXTRA": "1"}).argv_and_env(_run())

    assert argv[:7] == ["docker", "run", "--rm", "--network", "host", "--name", "pcr-local-abc-2-1"]
    assert argv[-3:] == ["repo/worker:1", "python", "/app/worker.py"]
    pairs = dict(argv[i + 1].split("=", 1) for i, part in enumerate(argv) if part == "-e")
    assert pairs["S3_JOB_BUCKET"] == "b"
    assert pairs["AWS_BATCH_JOB_ID"] == "abc:2"
    assert pairs["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
    assert pairs["EXTRA"] == "1"
    assert "PATH" not in pairs  # the image's own PATH applies inside the container
    assert env["DOCKER_HOST"] == "unix:///run/docker.sock"  # for the docker CLI itself
    assert "AWS_ACCESS_KEY_ID" not in env
    no_command, _ = _launcher(docker=True).argv_and_env(_run(definition_command=None))
    assert no_command[-1] == "repo/worker:1"  # the image's own CMD


def test_exit_status_of_a_killed_process() -> None:
    assert exit_status(-9) == 137
    assert exit_status(3) == 3
