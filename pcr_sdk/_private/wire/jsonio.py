"""JSON as pcr-sdk writes it: compact UTF-8, no NaN or Infinity, checked before anything is sent.

Light on purpose (standard library only): the worker serializes outputs with it too.
"""

from __future__ import annotations

import json

from pcr_sdk._private.errors import InvalidJobSpecError


def dump_json(data: object, *, what: str = "job input") -> str:
    """Serialize `data` as compact JSON text that encodes to UTF-8.

    Raises `InvalidJobSpecError` (naming `what`) for anything JSON cannot carry: non-JSON types,
    NaN and Infinity, nesting too deep to serialize, and strings with lone surrogates.
    """
    try:
        text = json.dumps(data, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    except RecursionError as err:
        raise InvalidJobSpecError(f"{what} is nested too deeply to serialize", field=what) from err
    except (TypeError, ValueError) as err:
        raise InvalidJobSpecError(f"{what} is not JSON-serializable: {err}", field=what) from err
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise InvalidJobSpecError(
            f"{what} holds a string that is not valid Unicode (a lone surrogate at position "
            f"{err.start} of its JSON text)",
            field=what,
        ) from err
    return text


def dump_json_bytes(data: object, *, what: str = "job input") -> bytes:
    """`dump_json(data)` as UTF-8 bytes."""
    return dump_json(data, what=what).encode("utf-8")


def request_bytes(request: object) -> int:
    """The size of a JSON request as AWS's payload limits count it: compact JSON, in UTF-8.

    SubmitJob's 30 KiB and RegisterJobDefinition's 24 KiB are measured so, by the SDK before it
    sends and by the local engine when it receives.
    """
    text = json.dumps(request, ensure_ascii=False, separators=(",", ":"))
    return len(text.encode("utf-8", "surrogatepass"))  # a lone surrogate counts, never raises
