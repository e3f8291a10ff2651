"""Retry policies: AWS Batch's `retryStrategy` (attempts and `evaluateOnExit` rules), validated.

AWS Batch matches a failed attempt against the rules in order; the first rule whose patterns
all match decides (RETRY while attempts remain, or EXIT); when none matches, the job is retried.
A pattern is exact, or a prefix when it ends with `*` (the only wildcard); an exit-code pattern
holds digits, a reason pattern letters, digits, periods, colons and white space; 1 to 512
characters. Sources: the AWS Batch user guide, "Automated job retries", and the API reference,
`RetryStrategy` and `EvaluateOnExit`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pcr_sdk._private.errors import InvalidJobSpecError
from pcr_sdk._private.public import public
from pcr_sdk._private.wire.facts import (
    HOST_TERMINATED_REASON_PREFIX,
    MAX_EVALUATE_ON_EXIT_PATTERN_LENGTH,
    MAX_EVALUATE_ON_EXIT_RULES,
    MAX_RETRY_ATTEMPTS,
)

if TYPE_CHECKING:
    from mypy_boto3_batch.type_defs import (
        EvaluateOnExitTypeDef,
        RetryStrategyOutputTypeDef,
        RetryStrategyTypeDef,
    )

Action = Literal["RETRY", "EXIT"]
MAX_PATTERN_LENGTH: Final = MAX_EVALUATE_ON_EXIT_PATTERN_LENGTH
_EXIT_CODE_PATTERN: Final = r"^[0-9]*\*?$"
_REASON_PATTERN: Final = r"^[A-Za-z0-9.:\s]*\*?$"


@contextmanager
def _as_spec_error(what: str) -> Iterator[None]:
    """Raise pydantic's errors as `InvalidJobSpecError` naming the field."""
    try:
        yield
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        where = f"{what}.{field}" if field else what
        raise InvalidJobSpecError(f"{where}: {first['msg']}", field=where) from err


def glob_matches(pattern: str | None, value: str | None) -> bool:
    """AWS's evaluateOnExit glob: no pattern matches anything; otherwise exact, or a prefix when
    it ends with `*`. A value the attempt lacks is matched as the empty string."""
    if pattern is None:
        return True
    text = value or ""
    return text.startswith(pattern[:-1]) if pattern.endswith("*") else text == pattern


@public("pcr_sdk")
class RetryRule(BaseModel):
    """One `evaluateOnExit` entry: RETRY or EXIT when every given pattern matches.

    `on_exit_code` matches the container's exit code, `on_reason` the container's reason
    (e.g. "OutOfMemoryError: ..."), `on_status_reason` the attempt's status reason (e.g. "Host
    EC2 (instance i-...) terminated." after a Spot reclaim). At least one is required.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: Action
    """`"RETRY"` or `"EXIT"` (any case)."""
    on_exit_code: str | None = Field(
        default=None, min_length=1, max_length=MAX_PATTERN_LENGTH, pattern=_EXIT_CODE_PATTERN
    )
    """A pattern of the container's exit code: digits, optionally ending with `*`."""
    on_reason: str | None = Field(
        default=None, min_length=1, max_length=MAX_PATTERN_LENGTH, pattern=_REASON_PATTERN
    )
    """A pattern of the container's reason: letters, digits, `.`, `:` and spaces, optionally
    ending with `*`."""
    on_status_reason: str | None = Field(
        default=None, min_length=1, max_length=MAX_PATTERN_LENGTH, pattern=_REASON_PATTERN
    )
    """A pattern of the attempt's status reason, as `on_reason`."""

    def __init__(
        self,
        *,
        action: Action,
        on_exit_code: str | None = None,
        on_reason: str | None = None,
        on_status_reason: str | None = None,
    ) -> None:
        with _as_spec_error("retry rule"):
            super().__init__(
                action=action,
                on_exit_code=on_exit_code,
                on_reason=on_reason,
                on_status_reason=on_status_reason,
            )

    @field_validator("action", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value  # AWS ignores the case

    @model_validator(mode="after")
    def _has_a_condition(self) -> RetryRule:
        if self.on_exit_code is None and self.on_reason is None and self.on_status_reason is None:
            raise ValueError(
                "a rule needs on_exit_code, on_reason or on_status_reason "
                '(on_reason="*" matches every failure)'
            )
        return self

    def matches(
        self, *, exit_code: int | None, reason: str | None, status_reason: str | None
    ) -> bool:
        """Whether a failed attempt with these facts matches every pattern of the rule.

        Args:
            exit_code: the container's exit code (None: it has none, e.g. never started).
            reason: the container's reason, e.g. "OutOfMemoryError: ...".
            status_reason: the attempt's status reason, e.g. "Host EC2 ... terminated.".

        Returns:
            True if every pattern the rule has matches (a missing fact matches as "").
        """
        return (
            glob_matches(self.on_exit_code, None if exit_code is None else str(exit_code))
            and glob_matches(self.on_reason, reason)
            and glob_matches(self.on_status_reason, status_reason)
        )

    def to_aws(self) -> EvaluateOnExitTypeDef:
        """This rule as one entry of AWS's `retryStrategy.evaluateOnExit`.

        Returns:
            The entry: `action` and the patterns the rule has.
        """
        entry: EvaluateOnExitTypeDef = {"action": self.action}
        if self.on_exit_code is not None:
            entry["onExitCode"] = self.on_exit_code
        if self.on_reason is not None:
            entry["onReason"] = self.on_reason
        if self.on_status_reason is not None:
            entry["onStatusReason"] = self.on_status_reason
        return entry

    @classmethod
    def from_aws(cls, entry: EvaluateOnExitTypeDef) -> RetryRule:
        """Read an `evaluateOnExit` entry back (AWS and moto may return the action in any case).

        Args:
            entry: one entry of a job definition's `retryStrategy.evaluateOnExit`.

        Returns:
            The rule.

        Raises:
            InvalidJobSpecError: the entry is not a valid rule.
        """
        action: Any = str(entry["action"]).upper()
        return cls(
            action=action,
            on_exit_code=entry.get("onExitCode"),
            on_reason=entry.get("onReason"),
            on_status_reason=entry.get("onStatusReason"),
        )


@public("pcr_sdk")
class RetryPolicy(BaseModel):
    """How often AWS Batch runs a failed job again, and which failures it retries.

    `attempts` (1 to 10) counts every attempt, the first included; `rules` (at most 5) are
    AWS's `evaluateOnExit`, matched in order; a failure no rule matches is retried. Invalid
    settings raise `InvalidJobSpecError` at construction, before any AWS call.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    attempts: int = Field(default=1, ge=1, le=MAX_RETRY_ATTEMPTS)
    """Attempts in all, the first included (1 to 10)."""
    rules: tuple[RetryRule, ...] = Field(default=(), max_length=MAX_EVALUATE_ON_EXIT_RULES)
    """AWS's `evaluateOnExit`, matched in order (at most 5)."""

    def __init__(self, *, attempts: int = 1, rules: Sequence[RetryRule] = ()) -> None:
        with _as_spec_error("retry"):
            super().__init__(attempts=attempts, rules=tuple(rules))

    @classmethod
    def spot_reclaims(cls, attempts: int = 3) -> RetryPolicy:
        """Retry host terminations (Spot reclaims: status reason `Host EC2*`) up to `attempts`
        attempts in all; fail at once on anything else (a bug does not get better by retrying).
        AWS's recommended retry strategy for jobs on Spot capacity.

        Args:
            attempts: attempts in all, the first included (1 to 10).

        Returns:
            The policy.

        Raises:
            InvalidJobSpecError: `attempts` is out of range.
        """
        return cls(
            attempts=attempts,
            rules=(
                RetryRule(action="RETRY", on_status_reason=f"{HOST_TERMINATED_REASON_PREFIX}*"),
                RetryRule(action="EXIT", on_reason="*"),
            ),
        )

    def action_for(
        self, *, exit_code: int | None, reason: str | None = None, status_reason: str | None = None
    ) -> Action:
        """What AWS Batch does with a failed attempt (while attempts remain): the action of the
        first matching rule, else RETRY.

        Args:
            exit_code: the container's exit code (None: it has none, e.g. never started).
            reason: the container's reason, e.g. "OutOfMemoryError: ...".
            status_reason: the attempt's status reason, e.g. "Host EC2 ... terminated.".

        Returns:
            `"RETRY"` or `"EXIT"`.
        """
        for rule in self.rules:
            if rule.matches(exit_code=exit_code, reason=reason, status_reason=status_reason):
                return rule.action
        return "RETRY"

    def to_aws(self) -> RetryStrategyTypeDef:
        """The `retryStrategy` of a RegisterJobDefinition request.

        Returns:
            `attempts`, and `evaluateOnExit` when there are rules.
        """
        strategy: RetryStrategyTypeDef = {"attempts": self.attempts}
        if self.rules:
            strategy["evaluateOnExit"] = [rule.to_aws() for rule in self.rules]
        return strategy

    @classmethod
    def from_aws(cls, strategy: RetryStrategyTypeDef | RetryStrategyOutputTypeDef) -> RetryPolicy:
        """Read a job definition's `retryStrategy` back.

        Args:
            strategy: the `retryStrategy` of a job definition (or of a request).

        Returns:
            The policy (1 attempt when the strategy names none).

        Raises:
            InvalidJobSpecError: the strategy is not a valid policy.
        """
        rules = [RetryRule.from_aws(entry) for entry in strategy.get("evaluateOnExit", [])]
        return cls(attempts=strategy.get("attempts", 1), rules=rules)


def retry_fields(retry_attempts: int | None, retry: RetryPolicy | None) -> dict[str, Any]:
    """JobDefinitionSpec's retry fields from JobSubmitter's `retry_attempts=` (shorthand) or
    `retry=`; `InvalidJobSpecError` if both are given, or `retry` is no RetryPolicy."""
    if retry is None:
        return {"retry_attempts": 1 if retry_attempts is None else retry_attempts}
    if retry_attempts is not None:
        raise InvalidJobSpecError(
            "pass retry_attempts= or retry=RetryPolicy(...), not both "
            "(retry_attempts=n is short for retry=RetryPolicy(attempts=n))",
            field="retry",
        )
    if not isinstance(retry, RetryPolicy):
        raise InvalidJobSpecError(
            f"retry must be a RetryPolicy, not {type(retry).__name__}", field="retry"
        )
    return {"retry_attempts": retry.attempts, "retry_rules": retry.rules}
