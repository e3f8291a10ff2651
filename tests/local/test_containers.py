"""Containers without a container runtime: the argv of each CLI call, what is refused, labels."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from pcr_sdk.local import LocalBackend
from pcr_sdk.local._capacity import Resources
from pcr_sdk.local._containers import (
    LABEL_BACKEND,
    LABEL_OWNER,
    MAC_HOST,
    Completed,
    ContainerLauncher,
    ContainerRuntime,
    ContainerRuntimeError,
    ContainerState,
    HostAccessError,
    check_runtime,
    owner_alive,
    owner_label,
    parse_state,
)
from pcr_sdk.local._credentials import LocalCredentials
from pcr_sdk.local._process import ContainerRun, JobWiring, LaunchError, PullError
from tests.support.local import container_run

KEYS = LocalCredentials("PCRLTESTKEY", "local-test-secret")
WIRING = JobWiring("http://127.0.0.1:4566", KEYS, "eu-central-1", {"EXTRA": "1"})


def _run(**changes: Any) -> ContainerRun:
    return container_run(**{"resources": Resources(vcpus=1.5, memory_mib=256, gpus=0), **changes})


class FakeCli:
    """Answers container CLI calls from a table; records them."""

    def __init__(self, answers: dict[str, Completed] | None = None) -> None:
        self.calls: list[list[str]] = []
        self.answers = answers or {}

    def __call__(self, argv: Sequence[str], timeout: float) -> Completed:
        del timeout
        self.calls.append(list(argv))
        for word in (" ".join(argv[1:3]), argv[1]):
            if word in self.answers:
                return self.answers[word]
        return Completed(0, "", "")

    def verbs(self) -> list[str]:
        return [call[1] for call in self.calls]


@pytest.fixture
def cli_path(tmp_path: Path) -> Path:
    """A PATH holding `docker` and `podman` stubs (found, never run: the CLI is faked)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("docker", "podman"):
        stub = bin_dir / name
        stub.write_text("#!/bin/sh\nexit 99\n")
        stub.chmod(0o755)
    return bin_dir


def _launcher(
    cli_path: Path,
    runtime: ContainerRuntime = "podman",
    *,
    cli: FakeCli | None = None,
    command: Any = None,
    **options: Any,
) -> ContainerLauncher:
    return ContainerLauncher(
        runtime,
        command,
        WIRING,
        None,
        backend_id="b4ck3nd",
        parent_environ={
            "PATH": str(cli_path),
            "HOME": "/home/me",
            "DOCKER_HOST": "unix:///run/podman/podman.sock",
            "XDG_RUNTIME_DIR": "/run/user/1000",
            "AWS_SECRET_ACCESS_KEY": "real-secret",
            "SECRET_TOKEN": "x",
        },
        cli=cli or FakeCli(),
        **options,
    )


@pytest.fixture
def podman(cli_path: Path) -> Iterator[ContainerLauncher]:
    launcher = _launcher(cli_path)
    launcher.open()
    yield launcher
    launcher.close()


def _env_file(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def test_create_gives_the_container_its_memory_cpus_labels_and_env_file(
    podman: ContainerLauncher, cli_path: Path
) -> None:
    argv = podman.create_argv(_run())
    env_file = podman.env_file(_run())

    assert argv == [
        str(cli_path / "podman"),
        "create",
        "--name=pcr-local-abc-2-1",
        f"--label={LABEL_BACKEND}=b4ck3nd",
        f"--label={LABEL_OWNER}={owner_label()}",
        "--network=host",
        f"--env-file={env_file}",
        "--memory=256m",
        "--memory-swap=256m",  # no swap beyond the memory
        "--cpus=1.5",
        "--",
        "repo/worker:1",
        "python",
        "/app/worker.py",
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


def test_without_a_command_the_container_runs_its_images_own(podman: ContainerLauncher) -> None:
    argv = podman.create_argv(_run(definition_command=None))
    assert argv[-2:] == ["--", "repo/worker:1"]
    override = podman.create_argv(_run(attempt=2, command=("sh", "-c", "Ref::x")))
    assert override[-4:] == ["repo/worker:1", "sh", "-c", "Ref::x"]


def test_a_command_mapped_to_the_image_wins_over_the_definitions(cli_path: Path) -> None:
    launcher = _launcher(cli_path, command={"repo/worker:1": ["python", "local.py"]})
    launcher.open()
    try:
        assert launcher.create_argv(_run())[-2:] == ["python", "local.py"]
    finally:
        launcher.close()


def test_gpus_as_each_runtime_takes_them(cli_path: Path) -> None:
    gpus = _run(resources=Resources(1, 512, 2))
    options: tuple[tuple[ContainerRuntime, str], ...] = (
        ("docker", "--gpus=2"),
        ("podman", "--device=nvidia.com/gpu=all"),
    )
    for runtime, option in options:
        launcher = _launcher(cli_path, runtime)
        launcher.open()
        try:
            assert option in launcher.create_argv(gpus)
        finally:
            launcher.close()


def test_on_macos_containers_reach_the_host_by_name(cli_path: Path) -> None:
    launcher = _launcher(cli_path, "docker", platform_name="darwin")
    launcher.open()
    try:
        argv = launcher.create_argv(_run())
        pairs = _env_file(launcher.env_file(_run()))
    finally:
        launcher.close()
    assert not [part for part in argv if part.startswith("--network")]
    assert pairs["AWS_ENDPOINT_URL"] == f"http://{MAC_HOST}:4566"


REACHING = {
    "privileged": ({"privileged": True}, "--privileged"),
    "user": ({"user": "0"}, "--user=0"),
    "host volume": (
        {
            "volumes": [{"name": "data", "host": {"sourcePath": "/srv/data"}}],
            "mountPoints": [{"sourceVolume": "data", "containerPath": "/data", "readOnly": True}],
        },
        "--volume=/srv/data:/data:ro",
    ),
    "device": (
        {"linuxParameters": {"devices": [{"hostPath": "/dev/fuse", "permissions": ["READ"]}]}},
        "--device=/dev/fuse:/dev/fuse:r",
    ),
}


@pytest.mark.parametrize("setting", sorted(REACHING))
def test_settings_that_reach_the_host_need_the_opt_in(cli_path: Path, setting: str) -> None:
    properties, option = REACHING[setting]
    refusing = _launcher(cli_path)
    refusing.open()
    try:
        with pytest.raises(HostAccessError, match="host_access=True") as raised:
            refusing.create_argv(_run(properties=properties))
        assert raised.value.reason == "CannotStartContainerError"
        assert list(refusing.env_file(_run()).parent.iterdir()) == []  # no env file written
    finally:
        refusing.close()
    allowing = _launcher(cli_path, host_access=True)
    allowing.open()
    try:
        assert option in allowing.create_argv(_run(properties=properties))
    finally:
        allowing.close()


def test_settings_that_stay_in_the_container_pass_as_ecs_applies_them(
    podman: ContainerLauncher,
) -> None:
    properties = {
        "readonlyRootFilesystem": True,
        "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 2048}],
        "volumes": [{"name": "scratch"}],
        "mountPoints": [{"sourceVolume": "scratch", "containerPath": "/scratch"}],
        "linuxParameters": {
            "initProcessEnabled": True,
            "sharedMemorySize": 64,
            "tmpfs": [{"containerPath": "/tmp", "size": 32, "mountOptions": ["noexec"]}],
        },
    }
    argv = podman.create_argv(_run(properties=properties))
    for option in (
        "--read-only",
        "--ulimit=nofile=1024:2048",
        "--volume=/scratch",
        "--init",
        "--shm-size=64m",
        "--tmpfs=/tmp:size=32m,noexec",
    ):
        assert option in argv
    assert argv.index("--") > argv.index("--read-only")


def test_an_efs_volume_cannot_be_had_locally(podman: ContainerLauncher) -> None:
    properties = {
        "volumes": [{"name": "efs", "efsVolumeConfiguration": {"fileSystemId": "fs-1"}}],
        "mountPoints": [{"sourceVolume": "efs", "containerPath": "/efs"}],
    }
    with pytest.raises(LaunchError, match="EFS"):
        podman.create_argv(_run(properties=properties))


@pytest.mark.parametrize(
    "image",
    ["--privileged", "-v=/:/host", "Upper", "repo/-x", "a b", "x" * 256, "repo:tag:tag", ""],
)
def test_an_image_outside_dockers_reference_grammar_never_reaches_the_cli(
    podman: ContainerLauncher, image: str
) -> None:
    with pytest.raises(PullError, match="invalid reference format") as raised:
        podman.create_argv(_run(image=image))
    assert raised.value.reason == "CannotPullContainerError"
    assert list(podman.env_file(_run()).parent.iterdir()) == []


@pytest.mark.parametrize(
    "image",
    ["python:3.11-slim", "pcr-local", "registry.example:5000/team/worker_x:v1.2",
     "ubuntu@sha256:" + "a" * 64, "[::1]:5000/img"],
)  # fmt: skip
def test_references_that_follow_the_grammar_are_kept(podman: ContainerLauncher, image: str) -> None:
    argv = podman.create_argv(_run(image=image, definition_command=None))
    assert argv[-2:] == ["--", image]


def test_a_line_break_in_a_variable_cannot_go_to_the_env_file(podman: ContainerLauncher) -> None:
    with pytest.raises(LaunchError, match="line break"):
        podman.create_argv(_run(environment={"BAD": "a\nb"}))


def test_the_cli_gets_its_own_variables_and_never_an_aws_secret(cli_path: Path) -> None:
    cli = FakeCli()
    seen: dict[str, str] = {}
    launcher = _launcher(cli_path, cli=cli)
    seen.update(launcher._cli_env)
    assert seen["DOCKER_HOST"] == "unix:///run/podman/podman.sock"
    assert seen["XDG_RUNTIME_DIR"] == "/run/user/1000"
    assert "AWS_SECRET_ACCESS_KEY" not in seen
    assert "SECRET_TOKEN" not in seen


def test_opening_checks_the_runtime_and_removes_dead_backends_containers(
    cli_path: Path,
) -> None:
    dead = f"{owner_label().split('/')[0]}/{2**22 + 7}/12345"  # no such pid
    cli = FakeCli(
        {
            "ps": Completed(0, "c1\nc2\nc3\n", ""),
            "inspect": Completed(0, f"c1 {owner_label()}\nc2 {dead}\nc3 otherhost/1/2\n", ""),
        }
    )
    launcher = _launcher(cli_path, cli=cli)
    launcher.open()
    launcher.close()
    removed = [call for call in cli.calls if call[1] == "rm"]
    assert removed[0][2:] == ["--force", "--time=0", "c2"]  # alive, dead, another machine's
    assert cli.calls[0][2:] == ["--all", "--quiet", f"--filter=label={LABEL_OWNER}"]
    assert [call for call in cli.calls if call[1] == "ps"][-1][-1] == (
        f"--filter=label={LABEL_BACKEND}=b4ck3nd"
    )  # close lists its own


def test_a_runtime_that_does_not_answer_fails_the_start(cli_path: Path, tmp_path: Path) -> None:
    silent = _launcher(cli_path, cli=FakeCli({"ps": Completed(125, "", "Cannot connect\n")}))
    with pytest.raises(ContainerRuntimeError, match="Cannot connect"):
        silent.open()
    missing = _launcher(tmp_path / "nowhere", "docker")
    with pytest.raises(ContainerRuntimeError, match="no docker CLI on PATH"):
        missing.open()


def test_a_foreign_architecture_is_warned_about_once(
    cli_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cli = FakeCli(
        {
            "image inspect": Completed(0, "arm64\n", ""),
            "create": Completed(125, "", "boom\n"),
        }
    )
    launcher = _launcher(cli_path, cli=cli, machine="x86_64")
    launcher.open()
    try:
        with caplog.at_level(logging.WARNING):
            for attempt in (1, 2):
                with pytest.raises(LaunchError, match="podman create: boom"):
                    launcher.start(_run(attempt=attempt), lambda line: None)
    finally:
        launcher.close()
    warnings = [r.getMessage() for r in caplog.records if "built for arm64" in r.getMessage()]
    assert len(warnings) == 1
    assert "this machine is amd64" in warnings[0]


def test_a_create_failure_for_a_missing_image_is_a_pull_error(cli_path: Path) -> None:
    cli = FakeCli(
        {"image inspect": Completed(1, "", "no such image"), "create": Completed(125, "", "x")}
    )
    launcher = _launcher(cli_path, cli=cli)
    launcher.open()
    try:
        with pytest.raises(PullError, match="podman create: x"):
            launcher.start(_run(), lambda line: None)
    finally:
        launcher.close()


def test_inspect_states_are_parsed() -> None:
    assert parse_state("3 false false 2026-12-07T07:41:06.36Z\n") == ContainerState(
        3, oom_killed=False, running=False, started=True
    )
    assert parse_state("137 true false 2026-12-07 07:41:06 +0000 UTC") == ContainerState(
        137, oom_killed=True, running=False, started=True
    )
    never = parse_state("0 false false 0001-01-01 00:00:00 +0000 UTC")
    assert never is not None
    assert not never.started
    assert parse_state("") is None
    assert parse_state("Error: no such container") is None


def test_the_runtime_is_named_or_there_is_none() -> None:
    assert check_runtime("docker") == "docker"
    assert check_runtime("podman") == "podman"
    assert check_runtime(None) is None
    for wrong in ("Docker", "lxc", True, ""):
        with pytest.raises(ValueError, match="'docker' or 'podman'"):
            check_runtime(wrong)
    with pytest.raises(ValueError, match="'docker' or 'podman'"):
        LocalBackend(containers="lxc")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="docker"):
        LocalBackend(docker=True)  # type: ignore[call-arg]


def test_an_owner_label_names_a_live_process() -> None:
    assert owner_alive(owner_label())
    host = owner_label().split("/")[0]
    assert not owner_alive(f"{host}/{2**22 + 7}/1")
    assert owner_alive("another-machine/1/1")  # not ours to judge
    parent = os.getppid()
    assert owner_alive(owner_label(parent))
    assert not owner_alive(f"{host}/{parent}/999999999")  # the same pid, another start
