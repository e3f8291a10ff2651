"""The fault suite's counters: one per pytest session, printed in the terminal summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

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
    interrupts: int = 0
    """Per-job submissions interrupted by Ctrl-C (SIGINT) while under way."""
    close_races: int = 0
    """close() calls made while other threads were submitting."""
    expired: int = 0
    """Jobs AWS Batch stopped returning (hidden from DescribeJobs) that a wait settled EXPIRED."""
    caller_calls: int = 0
    """The caller's own calls on the client it shares with pcr-sdk, each with a 500 first."""
    listing_lags: int = 0
    """Examples with an eventually consistent ListJobs (new jobs missing from it at first)."""
    reruns: int = 0
    """Jobs `resubmit_failed` reran (each at the index of a job that failed)."""
    sdk_errors: Counter[str] = field(default_factory=Counter)

    def lines(self) -> list[str]:
        main = (
            f"faults injected: {self.faults_injected} | batches run: {self.batches_run} | "
            f"jobs submitted: {self.jobs_submitted} | jobs lost: {self.jobs_lost} | "
            f"duplicates: {self.duplicates} | reattaches: {self.reattaches} | "
            f"crash rounds: {self.crash_rounds} (jobs the killed process never reported, "
            f"recovered: {self.unreported_recovered})"
        )
        edges = (
            f"Ctrl-C during submission: {self.interrupts} | close() racing submits: "
            f"{self.close_races} | jobs expired: {self.expired} | caller's own calls on the "
            f"shared client: {self.caller_calls} | ListJobs lag: {self.listing_lags} examples | "
            f"reruns: {self.reruns}"
        )
        errors = ", ".join(f"{name} {n}" for name, n in sorted(self.sdk_errors.items()))
        return [main, edges, f"SDK errors surfaced (allowed outcomes): {errors or 'none'}"]

    def to_wire(self) -> dict[str, object]:
        """The counters as plain data (what a pytest-xdist worker can send its controller)."""
        return {**asdict(self), "sdk_errors": dict(self.sdk_errors)}

    def add(self, wire: dict[str, Any]) -> None:
        """Add another process's counters (`to_wire`) to these."""
        for name, value in wire.items():
            if name == "sdk_errors":
                self.sdk_errors.update(value)
            else:
                setattr(self, name, getattr(self, name) + value)


COUNTS_KEY = pytest.StashKey[FaultCounts]()
WIRE_KEY = "pcr_fault_counts"


def counts_of(config: pytest.Config) -> FaultCounts:
    """The session's counters (created on first use)."""
    return config.stash.setdefault(COUNTS_KEY, FaultCounts())
