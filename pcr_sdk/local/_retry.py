"""`retryStrategy`: how many attempts a job gets and which failures `evaluateOnExit` retries.

AWS Batch matches the rules in order; each of `onExitCode`, `onReason` and `onStatusReason`
is a glob pattern that is either exact or ends with `*` (then only the start must match). The
first rule whose given patterns all match decides: RETRY (while attempts remain) or EXIT. When
no rule matches, the job is retried. A field the attempt lacks (no exit code after a host
termination, no container reason after a plain exit) is matched as the empty string, so `*`
matches it and any other pattern does not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from pcr_sdk._private.wire import facts
from pcr_sdk.local._wire import JsonObject, client_exception

_EXIT_CODE_PATTERN: Final = re.compile(r"[0-9]*\*?")
_REASON_PATTERN: Final = re.compile(r"[A-Za-z0-9.:\s]*\*?")
_FIELDS: Final = (("onExitCode", _EXIT_CODE_PATTERN), ("onReason", _REASON_PATTERN),
                  ("onStatusReason", _REASON_PATTERN))  # fmt: skip


def glob_matches(pattern: str, value: str) -> bool:
    """AWS's evaluateOnExit glob: exact, or a prefix when the pattern ends with `*`."""
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    return value == pattern


@dataclass(frozen=True)
class ExitRule:
    """One `evaluateOnExit` entry."""

    action: str
    """RETRY or EXIT (upper case)."""
    on_exit_code: str | None = None
    on_reason: str | None = None
    on_status_reason: str | None = None
    raw: JsonObject | None = None

    def matches(self, exit_code: int | None, reason: str | None, status_reason: str | None) -> bool:
        checks = (
            (self.on_exit_code, "" if exit_code is None else str(exit_code)),
            (self.on_reason, reason or ""),
            (self.on_status_reason, status_reason or ""),
        )
        return all(pattern is None or glob_matches(pattern, value) for pattern, value in checks)


@dataclass(frozen=True)
class RetryStrategy:
    """A job's `retryStrategy`: up to `attempts` attempts, retried as the rules say."""

    attempts: int = 1
    rules: tuple[ExitRule, ...] = ()

    def retries(
        self, attempts_made: int, exit_code: int | None, reason: str | None, status_reason: str
    ) -> bool:
        """Whether a failed attempt (the `attempts_made`-th) is followed by another one."""
        if attempts_made >= self.attempts:
            return False
        for rule in self.rules:
            if rule.matches(exit_code, reason, status_reason):
                return rule.action == "RETRY"
        return True

    def describe(self) -> JsonObject:
        described: JsonObject = {"attempts": self.attempts}
        if self.rules:
            described["evaluateOnExit"] = [dict(rule.raw or {}) for rule in self.rules]
        return described


def _rule(entry: object, position: int) -> ExitRule:
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
    return ExitRule(
        action=action.upper(),
        on_exit_code=patterns["onExitCode"],
        on_reason=patterns["onReason"],
        on_status_reason=patterns["onStatusReason"],
        raw={**entry, "action": action.lower()},  # AWS answers with the action in lower case
    )


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
    return RetryStrategy(attempts, tuple(_rule(entry, i) for i, entry in enumerate(rules)))
