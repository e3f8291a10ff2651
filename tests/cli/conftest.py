"""Fixtures of the `pcr` command's tests: runtimes wired to the test's `moto_world`.

A test whose jobs must stay unfinished marks itself `@pytest.mark.moto_world(polls_to_finish=10)`
and takes `slow_aws`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from pcr_sdk.cli._runtime import Runtime

if TYPE_CHECKING:
    from pcr_sdk.testing import MotoWorld


@pytest.fixture(autouse=True)
def wide_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables as wide as their content, so ids can be searched for in stderr."""
    monkeypatch.setenv("COLUMNS", "200")


def sum_product(data: Any) -> dict[str, Any]:
    """The example worker's outputs."""
    return {"x+y": data["x"] + data["y"], "x*y": data["x"] * data["y"]}


@pytest.fixture
def aws(moto_world: MotoWorld) -> Runtime:
    """The commands' runtime wired to `moto_world`, whose successful jobs compute the
    sum_product outputs; no real sleeping."""
    moto_world.script.worker(sum_product)
    return Runtime(aws_clients=lambda region: moto_world.clients, sleep=lambda seconds: None)


@pytest.fixture
def slow_aws(moto_world: MotoWorld) -> Runtime:
    """The commands' runtime wired to `moto_world`, its jobs not scripted; no real sleeping."""
    return Runtime(aws_clients=lambda region: moto_world.clients, sleep=lambda seconds: None)
