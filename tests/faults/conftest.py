"""The fault suite's counters: a fixture to add to them (tests/conftest.py prints them)."""

from __future__ import annotations

import pytest

from tests.faults._counts import FaultCounts, counts_of


@pytest.fixture
def fault_counts(request: pytest.FixtureRequest) -> FaultCounts:
    """The session-wide counters of the fault-injection suite."""
    return counts_of(request.config)
