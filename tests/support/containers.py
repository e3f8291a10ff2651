"""Which container runtime the container tests use, whether it answers, and their images.

`PCR_TEST_CONTAINERS` names the runtime (docker or podman); by default the first of podman and
docker whose CLI answers. The tests never install one: without a runtime they skip, naming what
they need (docs/containers.md says how to get one).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Final, Literal

import pytest

Runtime = Literal["docker", "podman"]
REPOSITORY: Final = Path(__file__).resolve().parents[2]
BASE_IMAGE: Final = "python:3.11-slim"
WORKER_IMAGE: Final = "sum-product:plain"
"""The examples' worker image (python3 and boto3): `examples/sum_product/Dockerfile`."""
NEEDS: Final = (
    "needs a podman or docker CLI that answers (`podman ps` / `docker ps`), with the "
    f"{BASE_IMAGE} image: see docs/containers.md"
)
_ANSWER_SECONDS: Final = 30
_BUILD_SECONDS: Final = 1200


def answers(cli: str, environ: dict[str, str] | None = None) -> str | None:
    """None if `cli ps` works, else why not."""
    if shutil.which(cli) is None:
        return f"no {cli} CLI on PATH"
    try:
        done = subprocess.run(
            [cli, "ps", "--quiet"],
            capture_output=True,
            timeout=_ANSWER_SECONDS,
            check=False,
            env=environ,
        )
    except subprocess.TimeoutExpired:
        return f"`{cli} ps` did not answer in {_ANSWER_SECONDS} s"
    if done.returncode != 0:
        return f"`{cli} ps` failed: {done.stderr.decode(errors='replace').strip()[-200:]}"
    return None


@cache
def runtime() -> Runtime | None:
    """The runtime under test, or None when none answers."""
    named = os.environ.get("PCR_TEST_CONTAINERS")
    candidates: tuple[Runtime, ...] = ("podman", "docker")
    if named in candidates:
        candidates = (named,)
    for cli in candidates:
        if answers(cli) is None and has_image(cli, BASE_IMAGE):
            return cli
    return None


def require_runtime() -> Runtime:
    """The runtime under test; skips the test when none answers."""
    found = runtime()
    if found is None:
        pytest.skip(NEEDS)
    return found


def has_image(cli: str, image: str) -> bool:
    done = subprocess.run(
        [cli, "image", "inspect", image],
        capture_output=True,
        timeout=_ANSWER_SECONDS,
        check=False,
    )
    return done.returncode == 0


def ensure_worker_image(cli: Runtime) -> str:
    """The examples' worker image, built from the checkout if missing.

    `PCR_CONTAINER_BUILD_ARGS` adds build options (e.g. the mounts of a pip mirror). A build
    that fails, fails the test: the runtime answers, so the image is the project's to build.
    """
    if not has_image(cli, WORKER_IMAGE):
        extra = shlex.split(os.environ.get("PCR_CONTAINER_BUILD_ARGS", ""))
        build = ["build", "--network", "host", *extra]
        dockerfile = ["-f", "examples/sum_product/Dockerfile", "-t", WORKER_IMAGE, "."]
        done = subprocess.run(
            [cli, *build, *dockerfile],
            cwd=REPOSITORY,
            capture_output=True,
            timeout=_BUILD_SECONDS,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(
                f"{cli} build of {WORKER_IMAGE} failed: "
                f"{done.stderr.decode(errors='replace')[-2000:]}"
            )
    return WORKER_IMAGE
