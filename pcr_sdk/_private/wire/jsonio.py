"""JSON as pcr-sdk writes it: compact UTF-8, no NaN or Infinity, checked before anything is sent.

Light on purpose (standard library only): the worker serializes outputs with it too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TypeAlias, Union

from pcr_sdk._private.errors import InvalidJobSpecError

JsonValue: TypeAlias = Union[  # noqa: UP007 - a string forward reference needs Union here
    str, int, float, bool, Sequence["JsonValue"], Mapping[str, "JsonValue"], None
]
"""JSON data as a type: None, bool, int, float, str, and sequences and string-keyed mappings
of those. Built from `Sequence` and `Mapping` (read-only, so covariant): a `dict[str, int]` or
a `list[dict[str, float]]` is one. NaN and Infinity are floats but not JSON: they are refused
when the data is serialized, as is a `bytes` value (a `Sequence[int]` to a type checker)."""


def _plain(value: object) -> object:
    """A `Mapping` as a dict, a `Sequence` as a list (json serializes only dicts, lists and
    tuples of the two); anything else is not JSON."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray | memoryview):
        return list(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dump_json(data: object, *, what: str = "job input") -> str:
    """Serialize `data` as compact JSON text that encodes to UTF-8.

    Any `Mapping` is written as an object and any `Sequence` (but bytes) as an array. Raises
    `InvalidJobSpecError` (naming `what`) for anything JSON cannot carry: non-JSON types,
    NaN and Infinity, nesting too deep to serialize, and strings with lone surrogates.
    """
    try:
        text = json.dumps(
            data, allow_nan=False, ensure_ascii=False, separators=(",", ":"), default=_plain
        )
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
