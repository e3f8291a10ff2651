"""Request checks of the local AWS Batch: what AWS answers with a ClientException, answered alike.

Each function takes a decoded request value and returns it typed, or raises the `ServiceError`
AWS Batch would send, through its row of the one table of checks (`_refusals`). Limits come
from `pcr_sdk._private.wire.facts`.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Mapping
from typing import Final

from pcr_sdk._private.wire import facts
from pcr_sdk._private.wire.jsonio import request_bytes
from pcr_sdk.local import _refusals as refusal
from pcr_sdk.local._capacity import Resources
from pcr_sdk.local._refusals import Check
from pcr_sdk.local._wire import JsonObject

JOB_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
IMAGE: Final = re.compile(facts.IMAGE_PATTERN)
DEFINITION_NAME: Final = re.compile(r"[A-Za-z0-9_-]+")
_TOKEN_PREFIX: Final = "pcr-local"  # noqa: S105 - a paging token tag, not a secret


def name(value: object, what: str, pattern: re.Pattern[str]) -> str:
    """A job or job definition name: up to 128 letters, numbers, hyphens and underscores."""
    if not isinstance(value, str) or not value:
        raise refusal.REQUIRED.refuse(member=what)
    if len(value) > facts.MAX_NAME_LENGTH or not pattern.fullmatch(value):
        check = refusal.JOB_NAME if pattern is JOB_NAME else refusal.DEFINITION_NAME
        raise check.refuse(what=what, value=value[: facts.MAX_NAME_LENGTH + 1])
    return value


def image(value: object) -> str:
    """`containerProperties.image`: up to 255 of `[A-Za-z0-9-_:./#]` (AWS's rule)."""
    if not isinstance(value, str) or not IMAGE.fullmatch(value):
        raise refusal.IMAGE.refuse(value=str(value)[:256])
    return value


def required(params: JsonObject, key: str) -> str:
    value = params.get(key)
    if not isinstance(value, str) or not value:
        raise refusal.REQUIRED.refuse(member=key)
    return value


def integer(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise refusal.WRONG_TYPE.refuse(member=what, kind="an integer")
    return value


def payload(params: JsonObject, limit: int, check: Check) -> None:
    """Refuse a request larger than `limit` bytes (as `request_bytes` measures it)."""
    size = request_bytes(params)
    if size > limit:
        raise check.refuse(size=math.ceil(size / 1024))


def stop_reason(params: JsonObject) -> str:
    """CancelJob's and TerminateJob's `reason` (required, at most 1024 characters)."""
    reason = required(params, "reason")
    if len(reason) > facts.MAX_STOP_REASON_LENGTH:
        raise refusal.STOP_REASON.refuse()
    return reason


def environment(entries: object, what: str) -> dict[str, str]:
    """A list of `{"name", "value"}` as a mapping; AWS_BATCH* names are refused."""
    result: dict[str, str] = {}
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise refusal.WRONG_TYPE.refuse(member=what, kind="entries with a name")
        result[entry["name"]] = str(entry.get("value", ""))
    reserved = sorted(key for key in result if key.startswith(facts.RESERVED_ENV_PREFIX))
    if reserved:
        raise refusal.RESERVED_ENV.refuse(names=reserved)
    return result


def parameters(value: object, what: str) -> dict[str, str]:
    """A string-to-string map (job definition defaults, SubmitJob overrides)."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise refusal.WRONG_TYPE.refuse(member=what, kind="a map of strings to strings")
    return dict(value)


def tags(value: object, existing: Mapping[str, str] | None = None) -> dict[str, str]:
    """Tags to add (to `existing` ones, if any): AWS's count, length and prefix rules."""
    if value is None:
        return {}
    added = parameters(value, "tags")
    for key, tag_value in added.items():
        tag_key(key)
        if len(tag_value) > facts.MAX_TAG_VALUE_LENGTH:
            raise refusal.TAG_VALUE.refuse(key=repr(key[:40]), length=len(tag_value))
    count = len({**(existing or {}), **added})
    if count > facts.MAX_TAGS:
        raise refusal.TAG_COUNT.refuse(count=count)
    return added


def tag_key(key: str) -> str:
    """A tag key: 1 to 128 characters, not starting with `aws:` (in any case)."""
    if not 1 <= len(key) <= facts.MAX_TAG_KEY_LENGTH:
        raise refusal.TAG_KEY.refuse(key=repr(key[:40]), length=len(key))
    if key.lower().startswith(facts.AWS_TAG_PREFIX):
        raise refusal.TAG_AWS_PREFIX.refuse(key=repr(key))
    return key


def timeout_seconds(timeout: object) -> int | None:
    """`timeout.attemptDurationSeconds`: at least 60 seconds."""
    if not isinstance(timeout, dict):
        raise refusal.WRONG_TYPE.refuse(member="timeout", kind="an object")
    seconds = timeout.get("attemptDurationSeconds")
    if seconds is None:
        return None
    seconds = integer(seconds, "timeout.attemptDurationSeconds")
    if seconds < facts.MIN_TIMEOUT_SECONDS:
        raise refusal.TIMEOUT.refuse()
    return seconds


def resource_requirements(entries: object, what: str) -> dict[str, float]:
    """`resourceRequirements` as {type: amount}: VCPU (may be fractional), MEMORY, GPU."""
    if entries is None:
        return {}
    if not isinstance(entries, list):
        raise refusal.WRONG_TYPE.refuse(member=what, kind="a list")
    found: dict[str, float] = {}
    for entry in entries:
        kind = entry.get("type") if isinstance(entry, dict) else None
        value = entry.get("value") if isinstance(entry, dict) else None
        if kind not in facts.RESOURCE_TYPES or not isinstance(value, str):
            raise refusal.RESOURCE_TYPE.refuse(where=what)
        try:
            amount = float(value) if kind == "VCPU" else int(value)
        except ValueError as err:
            raise refusal.RESOURCE_VALUE.refuse(value=value[:40], kind=kind) from err
        if kind == "VCPU" and not (math.isfinite(amount) and 0 < amount <= facts.MAX_VCPUS):
            raise refusal.VCPUS_RANGE.refuse(where=what, value=value)
        if kind == "MEMORY" and not facts.MIN_MEMORY_MIB <= amount <= facts.MAX_MEMORY_MIB:
            raise refusal.MEMORY_RANGE.refuse(where=what, value=value)
        if kind == "GPU" and not 0 <= amount <= facts.MAX_GPUS:
            raise refusal.GPUS_RANGE.refuse(where=what, value=value)
        found[str(kind)] = amount
    return found


def definition_container(properties: JsonObject, *, fargate: bool) -> None:
    """What RegisterJobDefinition requires of `containerProperties` on EC2 or on Fargate.

    EC2: vCPUs and memory, in `resourceRequirements` or the legacy `vcpus`/`memory`. Fargate:
    an execution role, no legacy keys, no GPU, and a VCPU/MEMORY pair Fargate supports.
    """
    defined = resource_requirements(
        properties.get("resourceRequirements"), "containerProperties.resourceRequirements"
    )
    if fargate:
        if not properties.get("executionRoleArn"):
            raise refusal.FARGATE_EXECUTION_ROLE.refuse()
        fargate_resources(properties, defined)
        return
    if "VCPU" not in defined and properties.get("vcpus") is None:
        raise refusal.EC2_VCPUS.refuse()
    if "MEMORY" not in defined and properties.get("memory") is None:
        raise refusal.EC2_MEMORY.refuse()


def fargate_overrides(properties: JsonObject, overrides: JsonObject) -> None:
    """SubmitJob's overrides of a Fargate job: Fargate's rules on what the job then asks for."""
    asked = {
        **resource_requirements(
            properties.get("resourceRequirements"), "containerProperties.resourceRequirements"
        ),
        **resource_requirements(
            overrides.get("resourceRequirements"), "containerOverrides.resourceRequirements"
        ),
    }
    fargate_resources(overrides, asked)


def fargate_resources(legacy: JsonObject, requirements: Mapping[str, float]) -> None:
    """A Fargate job's resources: no `vcpus`/`memory` in `legacy`, no GPU, a supported pair."""
    for key in ("vcpus", "memory"):
        if legacy.get(key) is not None:
            raise refusal.FARGATE_LEGACY_RESOURCES.refuse(key=key)
    if requirements.get("GPU"):
        raise refusal.FARGATE_GPU.refuse()
    vcpus = requirements.get("VCPU")
    memory = requirements.get("MEMORY")
    if vcpus is None or memory is None or memory not in facts.FARGATE_MEMORY_MIB.get(vcpus, ()):
        raise refusal.FARGATE_RESOURCES.refuse(
            vcpus="no" if vcpus is None else f"{vcpus:.2f}",
            memory="no" if memory is None else f"{memory:g}",
        )


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
                    check = refusal.VCPUS_RANGE if kind == "VCPU" else refusal.MEMORY_RANGE
                    raise check.refuse(where=key, value=legacy[kind])
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
        raise refusal.MAX_RESULTS.refuse(cap=cap, count=count)
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
        raise refusal.NEXT_TOKEN.refuse(token=str(token)[:200]) from err
