"""Retry policies: validated before any call, carried by the job definition, read back by attach."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pcr_sdk import InvalidJobSpecError, JobDefinitionSpec, PcrInputError, RetryPolicy, RetryRule
from pcr_sdk.testing import MotoWorld
from tests.support.calls import Calls
from tests.support.submitters import attach_submitter, new_submitter

SPOT_REASON = "Host EC2 (instance i-0123456789abcdef0) terminated."


def registered_strategy(world: MotoWorld, batch_id: str) -> Any:
    found = world.clients.batch.describe_job_definitions(jobDefinitionName=batch_id)
    (definition,) = found["jobDefinitions"]
    return definition["retryStrategy"]


# -- the models ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"action": "RETRY"}, "retry rule"),  # no condition
        ({"action": "RETRY", "on_exit_code": "1a"}, "retry rule.on_exit_code"),
        ({"action": "RETRY", "on_exit_code": "1*2"}, "retry rule.on_exit_code"),
        ({"action": "RETRY", "on_exit_code": ""}, "retry rule.on_exit_code"),
        ({"action": "EXIT", "on_reason": "Out-of-memory"}, "retry rule.on_reason"),
        ({"action": "EXIT", "on_status_reason": "Host EC2 (i-1)"}, "retry rule.on_status_reason"),
        ({"action": "EXIT", "on_status_reason": "x" * 513}, "retry rule.on_status_reason"),
        ({"action": "RESTART", "on_reason": "*"}, "retry rule.action"),
    ],
)
def test_a_rule_is_checked_as_aws_checks_it(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidJobSpecError) as info:
        RetryRule(**fields)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("attempts", "rules", "field"),
    [
        (0, 0, "retry.attempts"),
        (11, 0, "retry.attempts"),
        (3, 6, "retry.rules"),
    ],
)
def test_a_policy_has_1_to_10_attempts_and_at_most_5_rules(
    attempts: int, rules: int, field: str
) -> None:
    rule = RetryRule(action="RETRY", on_exit_code="1")
    with pytest.raises(InvalidJobSpecError) as info:
        RetryPolicy(attempts=attempts, rules=[rule] * rules)
    assert info.value.field == field
    assert isinstance(info.value, PcrInputError)


def test_patterns_at_the_limits_are_accepted() -> None:
    rule = RetryRule(action="exit", on_reason="a" * 511 + "*", on_exit_code="137")  # type: ignore[arg-type] # AWS takes any case
    assert rule.action == "EXIT"
    policy = RetryPolicy(attempts=10, rules=[rule] * 5)
    assert len(policy.rules) == 5


def test_spot_reclaims_retries_host_terminations_only() -> None:
    policy = RetryPolicy.spot_reclaims()
    assert policy.attempts == 3
    assert policy.to_aws() == {
        "attempts": 3,
        "evaluateOnExit": [
            {"action": "RETRY", "onStatusReason": "Host EC2*"},
            {"action": "EXIT", "onReason": "*"},
        ],
    }
    assert policy.action_for(exit_code=None, status_reason=SPOT_REASON) == "RETRY"
    assert policy.action_for(exit_code=1, status_reason="Essential container in task exited") == (
        "EXIT"
    )
    assert policy.action_for(exit_code=137, reason="OutOfMemoryError: Container killed") == "EXIT"
    assert policy.action_for(exit_code=None) == "EXIT"  # nothing known: onReason * matches ""
    assert RetryPolicy.spot_reclaims(attempts=5).attempts == 5
    with pytest.raises(InvalidJobSpecError):
        RetryPolicy.spot_reclaims(attempts=11)


def test_rules_match_in_order_and_no_match_retries() -> None:
    policy = RetryPolicy(
        attempts=4,
        rules=[
            RetryRule(action="EXIT", on_exit_code="3"),
            RetryRule(action="RETRY", on_exit_code="1*"),
            RetryRule(action="EXIT", on_exit_code="1", on_reason="never"),
        ],
    )
    assert policy.action_for(exit_code=3) == "EXIT"
    assert policy.action_for(exit_code=1) == "RETRY"  # the first matching rule decides
    assert policy.action_for(exit_code=17) == "RETRY"
    assert policy.action_for(exit_code=30) == "RETRY"  # no rule matches: AWS retries
    assert policy.action_for(exit_code=None) == "RETRY"


def test_a_policy_is_frozen() -> None:
    policy = RetryPolicy.spot_reclaims()
    with pytest.raises(ValueError, match="frozen"):
        policy.attempts = 5  # type: ignore[misc] # frozen on purpose


_PATTERN_TEXT = st.text(alphabet="AbZ09.: \t", min_size=0, max_size=12)
_RULES = st.builds(
    RetryRule,
    action=st.sampled_from(["RETRY", "EXIT"]),
    on_exit_code=st.one_of(st.none(), st.from_regex(r"\A[0-9]{1,4}\*?\Z")),
    on_reason=st.one_of(
        st.none(),
        st.builds(lambda t, s: t + s, _PATTERN_TEXT, st.sampled_from(["", "*"])).filter(bool),
    ),
    on_status_reason=st.just("Host EC2*"),
)


@given(st.integers(1, 10), st.lists(_RULES, max_size=5))
def test_a_policy_survives_the_trip_to_aws_and_back(attempts: int, rules: list[RetryRule]) -> None:
    policy = RetryPolicy(attempts=attempts, rules=rules)
    assert RetryPolicy.from_aws(policy.to_aws()) == policy


@given(st.text(alphabet="ab", max_size=4), st.text(alphabet="ab", max_size=4))
def test_globs_are_exact_or_a_prefix(pattern: str, value: str) -> None:
    exact = RetryRule(action="EXIT", on_reason=pattern or "a")
    prefix = RetryRule(action="EXIT", on_reason=pattern + "*")
    assert exact.matches(exit_code=None, reason=value, status_reason=None) == (
        value == (pattern or "a")
    )
    assert prefix.matches(exit_code=None, reason=value, status_reason=None) == value.startswith(
        pattern
    )


def test_the_definition_spec_carries_the_policy() -> None:
    policy = RetryPolicy.spot_reclaims(attempts=4)
    spec = JobDefinitionSpec.build(
        image="img", retry_attempts=policy.attempts, retry_rules=policy.rules
    )
    assert spec.retry == policy
    assert JobDefinitionSpec(image="img").retry == RetryPolicy()


# -- on MotoWorld: the registered definition ----------------------------------------------------


@pytest.mark.integration
def test_the_job_definition_carries_the_policy_and_attach_reads_it_back(
    moto_world: MotoWorld,
) -> None:
    policy = RetryPolicy.spot_reclaims(attempts=4)
    submitter = new_submitter(moto_world, retry=policy)
    batch_id = submitter.get_batch_id()
    assert registered_strategy(moto_world, batch_id) == {
        "attempts": 4,
        # moto stores the action in lower case; AWS takes either
        "evaluateOnExit": [
            {"action": "retry", "onStatusReason": "Host EC2*"},
            {"action": "exit", "onReason": "*"},
        ],
    }
    assert submitter.spec.retry == policy
    attached = attach_submitter(moto_world, batch_id)
    assert attached.spec.retry == policy
    submitter.close()


@pytest.mark.parametrize(
    ("kwargs", "strategy"),
    [({"retry_attempts": 3}, {"attempts": 3}), ({}, {"attempts": 1})],
)
@pytest.mark.integration
def test_retry_attempts_stays_as_shorthand(
    moto_world: MotoWorld, kwargs: dict[str, Any], strategy: dict[str, Any]
) -> None:
    submitter = new_submitter(moto_world, **kwargs)
    assert registered_strategy(moto_world, submitter.get_batch_id()) == strategy
    assert submitter.spec.retry == RetryPolicy(attempts=strategy["attempts"])
    submitter.close()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"retry_attempts": 2, "retry": RetryPolicy.spot_reclaims()},
        {"retry_attempts": 1, "retry": RetryPolicy()},
        {"retry": {"attempts": 3}},
        {"retry_attempts": 11},
    ],
    ids=["both", "both-defaults", "not-a-policy", "shorthand-out-of-range"],
)
@pytest.mark.integration
def test_a_bad_retry_setting_is_refused_before_any_call(
    moto_world: MotoWorld, kwargs: dict[str, Any]
) -> None:
    calls = Calls(moto_world.clients)
    with pytest.raises(PcrInputError):
        new_submitter(moto_world, **kwargs)
    assert calls.take() == {}
    assert moto_world.clients.batch.describe_job_definitions()["jobDefinitions"] == []
