"""The fault suite's counters: one per pytest session, printed in the terminal summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pytest


@dataclass
class FaultCounts:
    """What the fault-injection suite did, summed over every test (and every example)."""

    faults_injected: int = 0
    batches_run: int = 0
    jobs_submitted: int = 0
    jobs_lost: int = 0
    duplicates: int = 0
    reattaches: int = 0
    crash_rounds: int = 0
    unreported_recovered: int = 0
    """Jobs a killed process submitted but never reported, found again by attach."""
    sdk_errors: Counter[str] = field(default_factory=Counter)

    def lines(self) -> list[str]:
        main = (
            f"faults injected: {self.faults_injected} | batches run: {self.batches_run} | "
            f"jobs submitted: {self.jobs_submitted} | jobs lost: {self.jobs_lost} | "
            f"duplicates: {self.duplicates} | reattaches: {self.reattaches} | "
            f"crash rounds: {self.crash_rounds} (jobs the killed process never reported, "
            f"recovered: {self.unreported_recovered})"
        )
        errors = ", ".join(f"{name} {n}" for name, n in sorted(self.sdk_errors.items()))
        return [main, f"SDK errors surfaced (allowed outcomes): {errors or 'none'}"]


COUNTS_KEY = pytest.StashKey[FaultCounts]()


def counts_of(config: pytest.Config) -> FaultCounts:
    """The session's counters (created on first use)."""
    return config.stash.setdefault(COUNTS_KEY, FaultCounts())
