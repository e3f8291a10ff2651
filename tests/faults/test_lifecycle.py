"""Whole batch lifecycles while S3 and Batch calls are throttled, fail, or lose their answers.

A hypothesis state machine drives `JobSubmitter` on a `MotoWorld`, in three parts that read
alone:

- `rules.py`, the steps: start a batch, submit jobs (one by one with callbacks, with
  dependencies, as arrays, concurrently), wait, take results as they finish, read outputs, rerun
  what failed, cancel, close, "crash" (drop the submitter unclosed, then `attach` by batch id as
  a new process would); the edges of a process's life (a Ctrl-C during submission, `close()`
  racing submissions, AWS Batch forgetting old jobs, the caller's own calls on the shared
  client, an eventually consistent ListJobs); and between any two steps a fault injected below
  botocore's retry layer, so botocore's own retries absorb most and some exhaust the retries.
  An SDK error (`AwsError` and its subclasses, `WaitTimeoutError` from a wait with a timeout) is
  an allowed outcome of a step; the model records what may then have reached AWS Batch.
- `invariants.py`, the checks: after every step (one current job per index in AWS Batch, the
  live submitter agreeing with it, no callback run twice) and when a batch ends (a fresh attach
  knows every job once, outputs read back, states as the inputs asked, no definition ACTIVE).
- `state.py`, what both share: the world, the observer client, `BatchModel`, the helpers.

This module runs it: the settings per hypothesis profile, the clean-up after each example and
the test, whose counts `tests/conftest.py` prints (summed over pytest-xdist's workers).
"""

from __future__ import annotations

import os
from typing import Final

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.faults._counts import FaultCounts
from tests.faults.invariants import FaultInvariants
from tests.faults.rules import FaultRules

pytestmark = [pytest.mark.slow, pytest.mark.integration]

PROFILE: Final = os.environ.get("HYPOTHESIS_PROFILE", "ci")
PROFILE_SETTINGS: Final = settings()  # the profile tests/conftest.py loaded
FAULT_SETTINGS: Final = settings(
    PROFILE_SETTINGS,
    # ci (the default): 30 examples; dev: 6; thorough: 400
    max_examples=max(5, PROFILE_SETTINGS.max_examples // 5),
    stateful_step_count=30,
    deadline=None,
    # CI replays the same examples every run; other profiles explore
    derandomize=PROFILE == "ci",
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


class FaultMachine(FaultRules, FaultInvariants):
    """The steps and the checks, and the clean-up after each example."""

    def teardown(self) -> None:
        try:
            if not self.broken:
                if self.batch is not None:
                    self._verify()
                self.world.faults.clear()
                if self.caller_definition is not None:
                    self.observer.deregister_job_definition(jobDefinition=self.caller_definition)
                active = self.observer.describe_job_definitions(status="ACTIVE")
                names = {d["jobDefinitionName"] for d in active["jobDefinitions"]}
                assert names <= self.orphans, f"job definitions left ACTIVE: {names}"
        finally:
            self.counts.faults_injected += self.world.faults.injected
            self._stack.close()


# the default profile fits the suite's time budget; the timeout only catches a hang, with room
# for a loaded machine (two workers, and whatever else runs); the other profiles explore as long
# as they need
@pytest.mark.timeout(240 if PROFILE == "ci" else 0)
def test_batch_lifecycles_survive_injected_faults(fault_counts: FaultCounts) -> None:
    before = (fault_counts.jobs_lost, fault_counts.duplicates)

    class Machine(FaultMachine):
        def __init__(self) -> None:
            super().__init__(fault_counts)

    run_state_machine_as_test(Machine, settings=FAULT_SETTINGS)
    assert (fault_counts.jobs_lost, fault_counts.duplicates) == before == (0, 0)
    assert fault_counts.faults_injected > 0
