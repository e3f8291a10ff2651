"""`retryStrategy` as a request carries it: checked as AWS checks it, then matched by the SDK's
own `RetryPolicy` (`_private/model/retry_policy.py`, the one `evaluateOnExit` matcher).

AWS Batch matches the rules in order; the first rule whose given patterns all match decides:
RETRY (while attempts remain) or EXIT. When no rule matches, the job is retried.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Final

from pcr_sdk._private.model.retry_policy import RetryPolicy, RetryRule
from pcr_sdk._private.wire import facts
from pcr_sdk.local._wire import JsonObject, client_exception

_EXIT_CODE_PATTERN: Final = re.compile(r"[0-9]*\*?")
_REASON_PATTERN: Final = re.compile(r"[A-Za-z0-9.:\s]*\*?")
_FIELDS: Final = (("onExitCode", _EXIT_CODE_PATTERN), ("onReason", _REASON_PATTERN),
                  ("onStatusReason", _REASON_PATTERN))  # fmt: skip


@dataclass(frozen=True)
class RetryStrategy:
    """A job's `retryStrategy`: up to `attempts` attempts, retried as the rules say."""

    attempts: int = 1
    rules: tuple[JsonObject, ...] = ()
    """The `evaluateOnExit` entries, as AWS answers them (the action in lower case)."""
    policy: RetryPolicy = dataclasses.field(default_factory=RetryPolicy)
    """The same rules, as the SDK matches them."""

    def retries(
        self, attempts_made: int, exit_code: int | None, reason: str | None, status_reason: str
    ) -> bool:
        """Whether a failed attempt (the `attempts_made`-th) is followed by another one."""
        if attempts_made >= self.attempts:
            return False
        action = self.policy.action_for(
            exit_code=exit_code, reason=reason, status_reason=status_reason
        )
        return action == "RETRY"

    def describe(self) -> JsonObject:
        described: JsonObject = {"attempts": self.attempts}
        if self.rules:
            described["evaluateOnExit"] = [dict(rule) for rule in self.rules]
        return described


def _rule(entry: object, position: int) -> tuple[JsonObject, RetryRule]:
    where = f"retryStrategy.evaluateOnExit[{position}]"
    if not isinstance(entry, dict):
        raise client_exception(f"{where} must be an object")
    action = entry.get("action")
    if not isinstance(action, str) or action.upper() not in facts.RETRY_ACTIONS:
        raise client_exception(f"{where}.action must be RETRY or EXIT, got {action!r}")
    patterns: dict[str, str | None] = {}
    for field, allowed in _FIELDS:
        value = entry.get(field)
        if value is not None:
            if not isinstance(value, str) or not value:
                raise client_exception(f"{where}.{field} must be a non-empty string")
            if len(value) > facts.MAX_EVALUATE_ON_EXIT_PATTERN_LENGTH:
                raise client_exception(
                    f"{where}.{field} is longer than "
                    f"{facts.MAX_EVALUATE_ON_EXIT_PATTERN_LENGTH} characters"
                )
            if not allowed.fullmatch(value):
                what = (
                    "digits"
                    if field == "onExitCode"
                    else ("letters, numbers, periods, colons and white space")
                )
                raise client_exception(
                    f"{where}.{field} {value!r} is not a valid pattern: {what}, "
                    "optionally ending with *"
                )
        patterns[field] = value
    # checked above as AWS checks it (a rule without patterns matches everything): no revalidation
    rule = RetryRule.model_construct(
        action="RETRY" if action.upper() == "RETRY" else "EXIT",
        on_exit_code=patterns["onExitCode"],
        on_reason=patterns["onReason"],
        on_status_reason=patterns["onStatusReason"],
    )
    return {**entry, "action": action.lower()}, rule  # AWS answers with the action in lower case


def parse_retry_strategy(retry: object) -> RetryStrategy:
    """A request's `retryStrategy`, checked as AWS checks it (ClientException otherwise)."""
    if not isinstance(retry, dict):
        raise client_exception("retryStrategy must be an object")
    attempts = retry.get("attempts", 1)
    if isinstance(attempts, bool) or not isinstance(attempts, int):
        raise client_exception("retryStrategy.attempts must be an integer")
    if not 1 <= attempts <= facts.MAX_RETRY_ATTEMPTS:
        raise client_exception(
            f"retryStrategy.attempts must be between 1 and {facts.MAX_RETRY_ATTEMPTS}"
        )
    rules = retry.get("evaluateOnExit") or []
    if not isinstance(rules, list):
        raise client_exception("retryStrategy.evaluateOnExit must be a list")
    if len(rules) > facts.MAX_EVALUATE_ON_EXIT_RULES:
        raise client_exception(
            f"retryStrategy.evaluateOnExit takes at most {facts.MAX_EVALUATE_ON_EXIT_RULES} "
            f"entries, got {len(rules)}"
        )
    parsed = [_rule(entry, i) for i, entry in enumerate(rules)]
    policy = RetryPolicy.model_construct(attempts=attempts, rules=tuple(r for _, r in parsed))
    return RetryStrategy(attempts, tuple(raw for raw, _ in parsed), policy)
