"""Batch names and ids: the seed's name rule, and `<name>_<uuid4>`, which names a batch's
resources (job definition, jobs, S3 prefix)."""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Final
from uuid import UUID, uuid4

from pydantic import (
    BaseModel,
    ConfigDict,
    RootModel,
    field_validator,
)

from pcr_sdk._private.errors import InvalidBatchNameError
from pcr_sdk._private.public import public

BATCH_NAME_MAX_LENGTH: Final = 90

_NAME_FIRST: Final = frozenset(string.ascii_letters + string.digits)
_NAME_REST: Final = _NAME_FIRST | frozenset("-_")
_UUID_LENGTH: Final = 36


def check_batch_name(value: object) -> str:
    """Return `value` if it obeys the seed's batch-name rule, else say which part failed."""
    if not isinstance(value, str):
        raise InvalidBatchNameError(
            f"batch name must be a string, not {type(value).__name__}",
            name=repr(value),
            reason="type",
        )
    if not value:
        raise InvalidBatchNameError("batch name must not be empty", name=value, reason="empty")
    if len(value) > BATCH_NAME_MAX_LENGTH:
        raise InvalidBatchNameError(
            f"batch name has {len(value)} characters; at most {BATCH_NAME_MAX_LENGTH} are allowed",
            name=value,
            reason="length",
        )
    if value[0] not in _NAME_FIRST:
        raise InvalidBatchNameError(
            f"batch name must start with an ASCII letter or digit, not {value[0]!r}",
            name=value,
            reason="first-character",
        )
    bad = sorted({c for c in value[1:] if c not in _NAME_REST})
    if bad:
        raise InvalidBatchNameError(
            "batch name may contain only ASCII letters, digits, '-' and '_'; "
            f"found {''.join(bad)!r}",
            name=value,
            reason="characters",
        )
    return value


@public("pcr_sdk")
class BatchName(RootModel[str]):
    """A human-readable batch name: the seed's rule, enforced exactly."""

    model_config = ConfigDict(frozen=True)

    @field_validator("root", mode="before")
    @classmethod
    def _check(cls, value: object) -> str:
        return check_batch_name(value)

    @classmethod
    def of(cls, value: str) -> BatchName:
        """Validate `value`, raising `InvalidBatchNameError` (not pydantic's error).

        Args:
            value: a letter or digit, then letters, digits, `-` or `_`; at most 90.

        Returns:
            The batch name.

        Raises:
            InvalidBatchNameError: `value` breaks that rule.
        """
        return cls.model_construct(check_batch_name(value))

    def __str__(self) -> str:
        return self.root


@public("pcr_sdk")
class BatchId(BaseModel):
    """`<batch name>_<uuid4>`: names the job definition, the jobs and the S3 prefix of a batch."""

    model_config = ConfigDict(frozen=True)

    name: BatchName
    """The batch's name."""
    uuid: UUID
    """The UUID that makes the id unique."""

    @classmethod
    def new(cls, name: str | BatchName, uuid_factory: Callable[[], UUID] = uuid4) -> BatchId:
        """A fresh id for a batch called `name`.

        Args:
            name: the batch's name (checked as by `BatchName.of`).
            uuid_factory: makes the id's UUID (default: `uuid.uuid4`).

        Returns:
            `<name>_<uuid>`.

        Raises:
            InvalidBatchNameError: `name` is not a valid batch name.
        """
        batch_name = name if isinstance(name, BatchName) else BatchName.of(name)
        return cls(name=batch_name, uuid=uuid_factory())

    @classmethod
    def parse(cls, text: str) -> BatchId:
        """Read a batch id back from its string form.

        Args:
            text: `<name>_<uuid>`, the UUID in its canonical (lowercase, hyphenated) form.

        Returns:
            The batch id.

        Raises:
            InvalidBatchNameError: `text` is not a batch id.
        """
        if not isinstance(text, str):
            raise InvalidBatchNameError(f"a batch id is a str, not {type(text).__name__}",
                                        name=repr(text), reason="batch-id")  # fmt: skip
        if len(text) <= _UUID_LENGTH + 1 or text[-_UUID_LENGTH - 1] != "_":
            raise InvalidBatchNameError(
                f"{text!r} is not a batch id (<name>_<uuid>)", name=text, reason="batch-id"
            )
        name, tail = text[: -_UUID_LENGTH - 1], text[-_UUID_LENGTH:]
        try:
            parsed = UUID(tail)
        except ValueError as err:
            raise InvalidBatchNameError(
                f"{text!r} does not end in a UUID", name=text, reason="batch-id"
            ) from err
        if str(parsed) != tail:
            raise InvalidBatchNameError(
                f"{text!r} does not end in a canonical UUID", name=text, reason="batch-id"
            )
        return cls(name=BatchName.of(name), uuid=parsed)

    def __str__(self) -> str:
        return f"{self.name.root}_{self.uuid}"
