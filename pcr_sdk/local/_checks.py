"""Request checks of the local AWS Batch: what AWS answers with a ClientException, answered alike.

Each function takes a decoded request value and returns it typed, or raises the `ServiceError`
AWS Batch would send. Limits come from `pcr_sdk._private.wire.facts`.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from typing import Final

from pcr_sdk._private.wire import facts
from pcr_sdk.local._capacity import Resources
from pcr_sdk.local._wire import JsonObject, client_exception

JOB_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
IMAGE: Final = re.compile(facts.IMAGE_PATTERN)
DEFINITION_NAME: Final = re.compile(r"[A-Za-z0-9_-]+")
_TOKEN_PREFIX: Final = "pcr-local"  # noqa: S105 - a paging token tag, not a secret


def name(value: object, what: str, pattern: re.Pattern[str]) -> str:
    """A job or job definition name: up to 128 letters, numbers, hyphens and underscores."""
    if not isinstance(value, str) or not value:
        raise client_exception(f"{what} is required")
    if len(value) > facts.MAX_NAME_LENGTH or not pattern.fullmatch(value):
        raise client_exception(
            f"{what} {value!r} is invalid: up to {facts.MAX_NAME_LENGTH} letters, numbers, "
            "hyphens and underscores"
            + (", starting with a letter or number" if pattern is JOB_NAME else "")
        )
    return value


def image(value: object) -> str:
    """`containerProperties.image`: up to 255 of `[A-Za-z0-9-_:./#]` (AWS's rule)."""
    if not isinstance(value, str) or not IMAGE.fullmatch(value):
        raise client_exception(
            f"containerProperties.image {value!r} is invalid: up to 255 letters, numbers, "
            "hyphens, underscores, colons, periods, forward slashes and number signs"
        )
    return value


def required(params: JsonObject, key: str) -> str:
    value = params.get(key)
    if not isinstance(value, str) or not value:
        raise client_exception(f"{key} is required")
    return value


def integer(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise client_exception(f"{what} must be an integer")
    return value


def stop_reason(params: JsonObject) -> str:
    """CancelJob's and TerminateJob's `reason` (required, at most 1024 characters)."""
    reason = required(params, "reason")
    if len(reason) > facts.MAX_STOP_REASON_LENGTH:
        raise client_exception(f"reason is longer than {facts.MAX_STOP_REASON_LENGTH} characters")
    return reason


def environment(entries: object, what: str) -> dict[str, str]:
    """A list of `{"name", "value"}` as a mapping."""
    result: dict[str, str] = {}
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise client_exception(f"{what}: every entry needs a name")
        result[entry["name"]] = str(entry.get("value", ""))
    return result


def parameters(value: object, what: str) -> dict[str, str]:
    """A string-to-string map (job definition defaults, SubmitJob overrides)."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise client_exception(f"{what} must map strings to strings")
    return dict(value)


def timeout_seconds(timeout: object) -> int | None:
    """`timeout.attemptDurationSeconds`: at least 60 seconds."""
    if not isinstance(timeout, dict):
        raise client_exception("timeout must be an object")
    seconds = timeout.get("attemptDurationSeconds")
    if seconds is None:
        return None
    seconds = integer(seconds, "timeout.attemptDurationSeconds")
    if seconds < facts.MIN_TIMEOUT_SECONDS:
        raise client_exception(
            f"timeout.attemptDurationSeconds must be at least {facts.MIN_TIMEOUT_SECONDS}"
        )
    return seconds


def resource_requirements(entries: object, what: str) -> dict[str, float]:
    """`resourceRequirements` as {type: amount}: VCPU (may be fractional), MEMORY, GPU."""
    if entries is None:
        return {}
    if not isinstance(entries, list):
        raise client_exception(f"{what} must be a list")
    found: dict[str, float] = {}
    for entry in entries:
        kind = entry.get("type") if isinstance(entry, dict) else None
        value = entry.get("value") if isinstance(entry, dict) else None
        if kind not in facts.RESOURCE_TYPES or not isinstance(value, str):
            raise client_exception(
                f"{what}: every entry needs a type ({', '.join(sorted(facts.RESOURCE_TYPES))}) "
                "and a string value"
            )
        try:
            amount = float(value) if kind == "VCPU" else int(value)
        except ValueError as err:
            raise client_exception(f"{what}: {kind} value {value!r} is not a number") from err
        if kind == "VCPU" and not (math.isfinite(amount) and 0 < amount <= facts.MAX_VCPUS):
            raise client_exception(f"{what}: VCPU must be above 0 and at most {facts.MAX_VCPUS}")
        if kind == "MEMORY" and not facts.MIN_MEMORY_MIB <= amount <= facts.MAX_MEMORY_MIB:
            raise client_exception(
                f"{what}: MEMORY must be {facts.MIN_MEMORY_MIB} to {facts.MAX_MEMORY_MIB} MiB"
            )
        if kind == "GPU" and not 0 <= amount <= facts.MAX_GPUS:
            raise client_exception(f"{what}: GPU must be 0 to {facts.MAX_GPUS}")
        found[str(kind)] = amount
    return found


def job_resources(container: JsonObject, overrides: JsonObject) -> Resources:
    """What a job asks for: overridden resourceRequirements, the definition's, then legacy keys.

    AWS: `containerOverrides.resourceRequirements` override the definition's; the legacy
    `vcpus`/`memory` (definition or override) only count where no resourceRequirements entry
    names that resource. A job without any vCPU setting counts as 1 vCPU, without memory as 0.
    """
    defined = resource_requirements(
        container.get("resourceRequirements"), "containerProperties.resourceRequirements"
    )
    overridden = resource_requirements(
        overrides.get("resourceRequirements"), "containerOverrides.resourceRequirements"
    )
    legacy: dict[str, float] = {}
    limits = (("vcpus", "VCPU", facts.MAX_VCPUS), ("memory", "MEMORY", facts.MAX_MEMORY_MIB))
    for key, kind, most in limits:
        for source in (container, overrides):  # the override wins
            if source.get(key) is not None:
                legacy[kind] = integer(source[key], key)
                if not 0 <= legacy[kind] <= most:
                    raise client_exception(f"{key} must be 0 to {most}, got {legacy[kind]}")
    merged = {**legacy, **defined, **overridden}
    return Resources(
        vcpus=float(merged.get("VCPU", 1)),
        memory_mib=int(merged.get("MEMORY", 0)),
        gpus=int(merged.get("GPU", 0)),
    )


def max_results(params: JsonObject, *, cap: int, clamp: bool) -> int:
    """`maxResults` (at least 1): clamped to `cap` (ListJobs) or refused above it."""
    value = params.get("maxResults")
    if value is None:
        return cap
    count = integer(value, "maxResults")
    if count < 1 or (count > cap and not clamp):
        raise client_exception(f"maxResults must be between 1 and {cap}, got {count}")
    return min(count, cap)


def encode_token(kind: str, key: int) -> str:
    """An opaque paging token naming the last item returned by its immutable sequence number."""
    return base64.urlsafe_b64encode(f"{_TOKEN_PREFIX}:{kind}:{key}".encode()).decode()


def decode_token(kind: str, token: object) -> int:
    try:
        text = base64.urlsafe_b64decode(str(token).encode()).decode()
        prefix, found_kind, number = text.split(":")
        if prefix != _TOKEN_PREFIX or found_kind != kind or not number.isdigit():
            raise ValueError(text)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError) as err:
        raise client_exception(f"invalid nextToken {token!r}") from err
