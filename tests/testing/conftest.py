"""Fixtures for testing the mocked-AWS harness itself."""

from __future__ import annotations

import pytest

from pcr_sdk._private.wire.layout import BatchLayout
from pcr_sdk.testing import MotoWorld
from tests.support.jobs import Jobs


@pytest.fixture
def jobs(moto_world: MotoWorld) -> Jobs:
    return Jobs(moto_world, moto_world.register_job_definition(), BatchLayout("demo_batch"))
