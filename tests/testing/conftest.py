"""Fixtures for testing the mocked-AWS harness itself."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pcr_sdk._private.wire.layout import BatchLayout
from pcr_sdk.testing import MotoWorld
from tests.support.jobs import Jobs


@pytest.fixture
def world() -> Iterator[MotoWorld]:
    with MotoWorld() as entered:
        yield entered


@pytest.fixture
def jobs(world: MotoWorld) -> Jobs:
    return Jobs(world, world.register_job_definition(), BatchLayout("demo_batch"))
