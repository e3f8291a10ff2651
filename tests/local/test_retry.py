"""The engine's retry rules: `evaluateOnExit` globs and decisions, the host-termination reason."""

from __future__ import annotations

import pytest

from pcr_sdk._private.model.retry_policy import glob_matches
from pcr_sdk._private.wire import facts
from pcr_sdk.local._retry import RetryStrategy, parse_retry_strategy


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("3", "3", True),
        ("3", "30", False),
        ("3*", "30", True),
        ("*", "", True),
        ("Host EC2*", "Host EC2 (instance i-0abc) terminated.", True),
        ("host ec2*", "Host EC2 (instance i-0abc) terminated.", False),
        ("Essential container in task exited", "Essential container in task exited", True),
    ],
)
def test_evaluate_on_exit_globs(pattern: str, value: str, matches: bool) -> None:
    assert glob_matches(pattern, value) is matches


def test_retry_decisions() -> None:
    strategy = parse_retry_strategy(
        {
            "attempts": 3,
            "evaluateOnExit": [
                {"onExitCode": "1", "onReason": "Out*", "action": "exit"},
                {"onStatusReason": "Host EC2*", "action": "RETRY"},
                {"onExitCode": "*", "action": "EXIT"},
            ],
        }
    )
    exited = facts.CONTAINER_EXITED_REASON
    host = facts.HOST_TERMINATED_REASON_FORMAT.format(instance_id="i-0123456789abcdef0")
    assert strategy.retries(1, 1, "OutOfMemoryError", exited) is False  # rule 1: all fields
    assert strategy.retries(1, None, None, host) is True  # rule 2
    assert strategy.retries(3, None, None, host) is False  # no attempts left
    assert strategy.retries(1, 1, None, exited) is False  # rule 3: `*` matches any code
    assert RetryStrategy(attempts=2).retries(1, 7, None, exited) is True  # no rules: retried
    assert strategy.describe()["evaluateOnExit"][0]["action"] == "exit"  # shown as given


def test_the_host_termination_reason_starts_as_rules_expect() -> None:
    reason = facts.HOST_TERMINATED_REASON_FORMAT.format(instance_id="i-0abc")
    assert reason.startswith(facts.HOST_TERMINATED_REASON_PREFIX)
    assert reason == "Host EC2 (instance i-0abc) terminated."
