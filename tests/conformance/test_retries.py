"""Point 3: `retryStrategy.evaluateOnExit`, and retry rules for host terminations (Spot)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from pcr_sdk._private.wire import facts
from tests.conformance import scripts
from tests.conformance.target import Target, local_only

pytestmark = [pytest.mark.conformance, pytest.mark.slow]


def _attempt_codes(target: Target, job_id: str) -> list[int | None]:
    job = target.wait([job_id])[job_id]
    return [attempt["container"].get("exitCode") for attempt in job["attempts"]]


def test_an_exit_rule_on_the_exit_code_stops_retrying(target: Target) -> None:
    """An EXIT rule matching exit code 3 ends the job after one attempt; exit code 4 matches no
    rule and is retried up to `attempts`.
    https://docs.aws.amazon.com/batch/latest/APIReference/API_EvaluateOnExit.html and
    https://docs.aws.amazon.com/batch/latest/userguide/job_retries.html"""
    definition = target.definition(
        "exit-rule",
        retryStrategy={"attempts": 3, "evaluateOnExit": [{"onExitCode": "3", "action": "EXIT"}]},
    )
    exits = target.submit(definition, target.script(scripts.EXIT, "3"))
    retried = target.submit(definition, target.script(scripts.EXIT, "4"))

    assert _attempt_codes(target, exits) == [3]
    assert _attempt_codes(target, retried) == [4, 4, 4]


def test_rules_are_globs_matched_in_order_with_actions_in_any_case(target: Target) -> None:
    """`4*` matches 42 (EXIT, written lower case); the catch-all `onReason: *` RETRY rule takes
    exit code 5; an `onStatusReason` rule matches the attempt's statusReason.
    https://docs.aws.amazon.com/batch/latest/APIReference/API_EvaluateOnExit.html"""
    strategy: dict[str, Any] = {
        "attempts": 2,
        "evaluateOnExit": [
            {"onExitCode": "4*", "action": "exit"},
            {"onExitCode": "6", "onStatusReason": "Essential container*", "action": "EXIT"},
            {"onReason": "*", "action": "RETRY"},
        ],
    }
    definition = target.definition("glob-rules", retryStrategy=strategy)
    forty_two = target.submit(definition, target.script(scripts.EXIT, "42"))
    five = target.submit(definition, target.script(scripts.EXIT, "5"))
    six = target.submit(definition, target.script(scripts.EXIT, "6"))

    assert _attempt_codes(target, forty_two) == [42]
    assert _attempt_codes(target, five) == [5, 5]
    assert _attempt_codes(target, six) == [6]


@pytest.mark.parametrize(
    ("case", "rules"),
    [
        ("six rules", [{"onExitCode": str(code), "action": "EXIT"} for code in range(6)]),
        ("unknown action", [{"onExitCode": "1", "action": "SKIP"}]),
        ("letters in an exit code", [{"onExitCode": "1a", "action": "EXIT"}]),
        ("asterisk inside", [{"onReason": "Out*Memory", "action": "EXIT"}]),
        ("pattern too long", [{"onReason": "x" * 513, "action": "EXIT"}]),
    ],
)
def test_bad_rules_are_refused_at_registration_and_submission(
    target: Target, case: str, rules: list[dict[str, Any]]
) -> None:
    """At most 5 rules, action RETRY or EXIT, patterns of up to 512 characters that may only
    end with `*` (exit codes: digits only).
    https://docs.aws.amazon.com/batch/latest/APIReference/API_EvaluateOnExit.html and
    https://docs.aws.amazon.com/batch/latest/APIReference/API_RetryStrategy.html"""
    strategy: dict[str, Any] = {"attempts": 2, "evaluateOnExit": rules}
    with pytest.raises(ClientError) as registered:
        target.definition(f"bad-rules-{case.replace(' ', '-')}", retryStrategy=strategy)
    assert registered.value.response["Error"]["Code"] == "ClientException", case
    definition = target.definition("good-rules")
    with pytest.raises(ClientError) as submitted:
        target.submit(definition, retryStrategy=strategy)
    assert submitted.value.response["Error"]["Code"] == "ClientException", case


@local_only(
    "AWS has no API to reclaim a Spot instance on demand; LocalBackend.reclaim_host and "
    "MotoWorld.reclaim_host do"
)
def test_a_host_termination_is_retried_by_an_on_status_reason_rule(target: Target) -> None:
    """A Spot reclaim ends the attempt without an exit code and with the statusReason
    "Host EC2 (instance i-...) terminated."; `onStatusReason: Host EC2*` retries it, while a
    job with only a catch-all EXIT rule fails.
    https://docs.aws.amazon.com/batch/latest/userguide/job_retries.html"""
    command = target.script(scripts.UNTIL_ATTEMPT, "2")
    exit_on_anything = {"onReason": "*", "action": "EXIT"}
    spot_safe = target.definition(
        "spot-retried",
        command,
        retryStrategy={
            "attempts": 2,
            "evaluateOnExit": [
                {"onStatusReason": "Host EC2*", "action": "RETRY"},
                exit_on_anything,
            ],
        },
    )
    unsafe = target.definition(
        "spot-fails", command, retryStrategy={"attempts": 2, "evaluateOnExit": [exit_on_anything]}
    )
    retried, failed = target.submit(spot_safe), target.submit(unsafe)
    target.wait_for_line(retried, "ready")
    target.wait_for_line(failed, "ready")

    reason = target.reclaim_host(retried)
    target.reclaim_host(failed)
    jobs = target.wait([retried, failed])

    assert reason.startswith(facts.HOST_TERMINATED_REASON_PREFIX + " (instance i-")
    assert reason.endswith(") terminated.")
    first = jobs[retried]["attempts"][0]
    assert first["statusReason"] == reason
    assert "exitCode" not in first["container"]
    assert jobs[retried]["status"] == "SUCCEEDED"
    assert len(jobs[retried]["attempts"]) == 2
    assert jobs[failed]["status"] == "FAILED"
    assert jobs[failed]["statusReason"].startswith(facts.HOST_TERMINATED_REASON_PREFIX)
    assert len(jobs[failed]["attempts"]) == 1
