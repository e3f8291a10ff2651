"""The local engine's tests: a `BatchEngine` whose scheduler thread starts jobs through a gated
launcher (`tests/support/local.py`), so each status is reached when the test says so."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pcr_sdk.local._engine import BatchEngine
from tests.support.local import GatedLauncher, threaded_engine


@pytest.fixture
def launcher() -> GatedLauncher:
    return GatedLauncher()


@pytest.fixture
def engine(launcher: GatedLauncher) -> Iterator[BatchEngine]:
    engine = threaded_engine(launcher)
    yield engine
    for gate in launcher.gates.values():
        gate.set()
    engine.close()
