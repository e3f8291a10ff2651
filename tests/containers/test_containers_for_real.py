"""Containers for real, on the runtime that answers (podman here; `make test-containers`).

Memory, exit codes and stopping are checked by the conformance suite's `[containers]` target;
these check what only containers have: the image's own command and working directory, the
examples' worker image end to end through `pcr run --local --containers`, labels and the
removal of containers, and the docker CLI over podman's Docker-compatible socket.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Final

import pytest

from pcr_sdk.local import LocalBackend
from pcr_sdk.local._containers import LABEL_BACKEND, LABEL_OWNER, owner_label
from tests.support.cli import EXAMPLE, assert_clean_exit, invoke, lines
from tests.support.containers import (
    BASE_IMAGE,
    REPOSITORY,
    Runtime,
    answers,
    ensure_worker_image,
    require_runtime,
)
from tests.support.local import Kit

pytestmark = [pytest.mark.containers, pytest.mark.subprocess, pytest.mark.slow]

ENTRY_IMAGE: Final = "pcr-test-entry:1"
ENTRY_FILE: Final = f"""FROM {BASE_IMAGE}
WORKDIR /srv/job
ENTRYPOINT ["python3", "-c", "import os, sys; print('entry', os.getcwd(), *sys.argv[1:])"]
CMD ["from-cmd"]
"""
PODMAN_SOCKET: Final = "unix:///run/podman/podman.sock"


@pytest.fixture(scope="module")
def runtime() -> Runtime:
    return require_runtime()


@pytest.fixture(scope="module")
def entry_image(runtime: Runtime, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An image with an ENTRYPOINT, a CMD and a WORKDIR (built locally, no network)."""
    context = tmp_path_factory.mktemp("entry")
    (context / "Containerfile").write_text(ENTRY_FILE)
    subprocess.run(
        [runtime, "build", "-t", ENTRY_IMAGE, "-f", str(context / "Containerfile"), str(context)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return ENTRY_IMAGE


def _containers(runtime: Runtime, label: str) -> list[str]:
    listed = subprocess.run(
        [runtime, "ps", "--all", "--quiet", f"--filter=label={label}"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return listed.stdout.decode().split()


def test_a_definition_without_a_command_runs_the_images_entrypoint_and_cmd(
    runtime: Runtime, entry_image: str
) -> None:
    with LocalBackend(containers=runtime) as local:
        kit = Kit(local)
        own = kit.definition("own", containerProperties={"image": entry_image})
        mapped = kit.definition(
            "mapped",
            containerProperties={"image": entry_image, "command": ["Ref::word", "two"]},
            parameters={"word": "one"},
        )
        jobs = kit.wait([kit.submit(own), kit.submit(mapped)], timeout=120)
        logs = {kit.log(job)[0] for job in jobs.values()}

    assert {job["status"] for job in jobs.values()} == {"SUCCEEDED"}
    # the image's ENTRYPOINT in its WORKDIR; its CMD unless the definition has a command
    assert logs == {"entry /srv/job from-cmd", "entry /srv/job one two"}


def test_the_examples_worker_image_runs_a_batch_with_its_memory_limit(runtime: Runtime) -> None:
    """The path of docs/containers.md: build the worker image, run the batch in it."""
    image = ensure_worker_image(runtime)
    local = ["--local", "--containers", runtime, "--image", image, "--memory", "256", "-p", "2"]
    result = invoke(["run", str(EXAMPLE / "jobs.jsonl"), *local])
    assert_clean_exit(result, 0)
    assert [json.loads(line) for line in lines(result.stdout)] == [
        {"x+y": 5, "x*y": 6},
        {"x+y": 14, "x*y": 40},
        {"x+y": 6, "x*y": -7},
    ]


def test_the_examples_worker_image_runs_a_batch_from_python(runtime: Runtime) -> None:
    """docs/containers.md's Python path: a JobSubmitter on a backend running containers."""
    image = ensure_worker_image(runtime)
    with (
        LocalBackend(containers=runtime) as backend,
        backend.job_submitter("sums", image, memory_in_mb=256) as submitter,
    ):
        submitter.submit_jobs([{"x": 2, "y": 3}, {"x": 10, "y": 4}], array=False)
        submitter.wait_until_jobs_finished(timeout=300)
        outputs = submitter.get_all_outputs()
    assert [json.loads(output or "null") for output in outputs] == [
        {"x+y": 5, "x*y": 6},
        {"x+y": 14, "x*y": 40},
    ]


SLEEPER: Final = ["python3", "-c", "import time; print('up', flush=True); time.sleep(600)"]


def test_containers_carry_the_backends_label_and_go_with_it(runtime: Runtime) -> None:
    with LocalBackend(containers=runtime, grace_seconds=0) as local:
        kit = Kit(local)
        definition = kit.definition("labelled", containerProperties={"image": BASE_IMAGE})
        job_id = kit.submit(definition, SLEEPER)
        kit.wait_for_log(job_id, timeout=120)
        name = f"pcr-local-{job_id}-1"
        labels = subprocess.run(
            [runtime, "inspect", "--format={{json .Config.Labels}}", name],
            capture_output=True,
            check=True,
        ).stdout.decode()

    assert json.loads(labels)[LABEL_OWNER] == owner_label()
    assert LABEL_BACKEND in json.loads(labels)
    assert name not in _names(runtime)  # closing the backend removed it, running


def test_a_dead_backends_leftover_is_removed_when_a_backend_starts(runtime: Runtime) -> None:
    dead_owner = f"{owner_label().split('/')[0]}/{2**22 + 11}/1"
    created = subprocess.run(
        [runtime, "create", f"--label={LABEL_OWNER}={dead_owner}", BASE_IMAGE, "true"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    leftover = created.stdout.decode().strip()
    try:
        with LocalBackend(containers=runtime):
            remaining = _containers(runtime, f"{LABEL_OWNER}={dead_owner}")
    finally:
        subprocess.run([runtime, "rm", "--force", leftover], capture_output=True, check=False)
    assert remaining == []


HOLDER: Final = """
import sys, threading
from pathlib import Path
from pcr_sdk.local import LocalBackend
from tests.support.local import Kit

with LocalBackend(containers=sys.argv[1]) as local:
    kit = Kit(local)
    definition = kit.definition("held", containerProperties={"image": sys.argv[2]})
    job_id = kit.submit(definition, sys.argv[4:])
    kit.wait_for_log(job_id, timeout=120)
    Path(sys.argv[3]).write_text(f"pcr-local-{job_id}-1")
    threading.Event().wait(600)
"""


def test_a_sigkilled_backends_containers_are_removed_by_its_supervisor(
    runtime: Runtime, tmp_path: Path
) -> None:
    name_file = tmp_path / "name"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, runtime, BASE_IMAGE, str(name_file), *SLEEPER],
        cwd=REPOSITORY,
        env={**os.environ, "PYTHONPATH": str(REPOSITORY)},
    )
    try:
        deadline = time.monotonic() + 180
        pause = threading.Event()
        while not name_file.exists():
            assert holder.poll() is None, "the holder exited early"
            assert time.monotonic() < deadline, "the held container never logged"
            pause.wait(0.1)
        name = name_file.read_text()
        holder.send_signal(signal.SIGKILL)
        holder.wait()

        deadline = time.monotonic() + 30
        while name in _names(runtime):
            assert time.monotonic() < deadline, f"{name} outlived its backend by 30 s"
            pause.wait(0.5)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def _names(runtime: Runtime) -> str:
    return subprocess.run(
        [runtime, "ps", "--all", "--format={{.Names}}"], capture_output=True, check=True
    ).stdout.decode()


@pytest.fixture
def docker_over_podman(monkeypatch: pytest.MonkeyPatch, runtime: Runtime) -> None:
    """The docker CLI pointed at podman's Docker-compatible socket (skips without either)."""
    if runtime != "podman":
        pytest.skip("talks to podman's socket")
    host = os.environ.get("PCR_TEST_DOCKER_HOST", PODMAN_SOCKET)
    problem = answers("docker", {**os.environ, "DOCKER_HOST": host})
    if problem is not None:
        pytest.skip(f"needs the docker CLI and podman's socket at {host}: {problem}")
    monkeypatch.setenv("DOCKER_HOST", host)


@pytest.mark.usefixtures("docker_over_podman")
def test_the_docker_cli_over_podmans_socket_keeps_every_exit_code(entry_image: str) -> None:
    """Over podman's socket `docker run --rm` exits 0 for a container that exited 3: the
    backend reads the code from the container itself."""
    with LocalBackend(containers="docker") as local:
        kit = Kit(local)
        exits = kit.definition("exits", containerProperties={"image": BASE_IMAGE})
        own = kit.definition("own", containerProperties={"image": entry_image})
        failed = kit.submit(exits, ["python3", "-c", "print('three'); raise SystemExit(3)"])
        cmd = kit.submit(own)
        jobs = kit.wait([failed, cmd], timeout=120)
        log = kit.log(jobs[cmd])

    assert jobs[failed]["status"] == "FAILED"
    assert jobs[failed]["container"]["exitCode"] == 3
    assert jobs[cmd]["status"] == "SUCCEEDED"
    assert log == ["entry /srv/job from-cmd"]
