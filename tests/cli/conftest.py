"""Fixtures of the `pcr` command's tests: a mocked AWS account and a runtime wired to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pcr_sdk.cli._runtime import Runtime
from pcr_sdk.testing import MotoWorld


@pytest.fixture(autouse=True)
def wide_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables as wide as their content, so ids can be searched for in stderr."""
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
def world() -> Iterator[MotoWorld]:
    """A mocked AWS account whose successful jobs compute the sum_product outputs."""
    with MotoWorld() as world:
        world.script.worker(lambda d: {"x+y": d["x"] + d["y"], "x*y": d["x"] * d["y"]})
        yield world


@pytest.fixture
def aws(world: MotoWorld) -> Runtime:
    """The commands' runtime wired to `world`, and no real sleeping."""
    return Runtime(aws_clients=lambda region: world.clients, sleep=lambda seconds: None)


@pytest.fixture
def slow_world() -> Iterator[MotoWorld]:
    """A mocked AWS account whose jobs stay unfinished for ten polls."""
    with MotoWorld(polls_to_finish=10) as world:
        yield world


@pytest.fixture
def slow_aws(slow_world: MotoWorld) -> Runtime:
    """The commands' runtime wired to `slow_world`."""
    return Runtime(aws_clients=lambda region: slow_world.clients, sleep=lambda seconds: None)
