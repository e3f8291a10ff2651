"""Job processes: the command a job runs, its environment, exit statuses (the container's argv
is in test_containers_argv.py)."""

from __future__ import annotations

from typing import Any

import pytest

from pcr_sdk.local._credentials import LocalCredentials
from pcr_sdk.local._process import JobWiring, LaunchError, LocalLauncher, exit_status
from pcr_sdk.local._supervisor import Supervisor
from tests.support.local import container_run

KEYS = LocalCredentials("PCRLTESTKEY", "local-test-secret")


WIRING = JobWiring("http://127.0.0.1:4566", KEYS, "eu-central-1")


def _launcher(command: Any = None, *, extra_env: Any = None) -> LocalLauncher:
    wiring = JobWiring(WIRING.endpoint_url, KEYS, WIRING.region, extra_env or {})
    return LocalLauncher(
        command,
        wiring,
        Supervisor(),  # never opened: these tests start nothing
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
    )


def test_command_precedence() -> None:
    mapping = _launcher({"repo/worker:1": ["python", "local.py"]})
    assert mapping.command(container_run()) == ("python", "local.py")
    assert mapping.command(container_run(image="other")) == ("python", "/app/worker.py")
    assert mapping.command(container_run(command=("python", "override.py"))) == (
        "python",
        "override.py",
    )
    assert _launcher(["run-it"]).command(container_run()) == ("run-it",)
    with pytest.raises(LaunchError, match="no command to run for image 'repo/worker:1'") as raised:
        _launcher().argv_and_env(container_run(definition_command=None))
    assert "command={'repo/worker:1': [...]}" in str(raised.value)  # how to map one
    assert "containers='docker' or 'podman'" in str(raised.value)  # or run the image itself


def test_local_process_environment() -> None:
    argv, env = _launcher(["run-it"], extra_env={"EXTRA": "1"}).argv_and_env(container_run())
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


def test_exit_status_of_a_killed_process() -> None:
    assert exit_status(-9) == 137
    assert exit_status(3) == 3
