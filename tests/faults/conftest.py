"""The fault suite's counters: a fixture to add to them, and a summary that prints them."""

from __future__ import annotations

import pytest

from tests.faults._counts import COUNTS_KEY, FaultCounts, counts_of


@pytest.fixture
def fault_counts(request: pytest.FixtureRequest) -> FaultCounts:
    """The session-wide counters of the fault-injection suite."""
    return counts_of(request.config)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    counts = config.stash.get(COUNTS_KEY, None)
    if counts is None:
        return
    terminalreporter.write_sep("-", "fault-injection suite")
    for line in counts.lines():
        terminalreporter.write_line(line)
