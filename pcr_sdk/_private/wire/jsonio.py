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


def dump_json(data: object, *, what: str = "job input", string_keys: bool = False) -> str:
    """Serialize `data` as compact JSON text that encodes to UTF-8.

    Any `Mapping` is written as an object and any `Sequence` (but bytes) as an array. Raises
    `InvalidJobSpecError` (naming `what`) for anything JSON cannot carry: non-JSON types,
    NaN and Infinity, nesting too deep to serialize, and strings with lone surrogates. With
    `string_keys`, also for an object key that is not a string: `json` would turn `1` into
    `"1"`, and `{1: "a", "1": "b"}` would lose `"a"` without a word.
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
    if string_keys:
        _check_keys(data, what)
    return text


def _check_keys(data: object, what: str) -> None:
    """Every object key in `data` is a string (run after `json.dumps`: no cycles, not too deep)."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            for key in item:
                if not isinstance(key, str):
                    raise InvalidJobSpecError(
                        f"{what} has an object key that is not a string: {key!r} "
                        f"({type(key).__name__}); JSON turns keys into strings, where two keys "
                        "may collide (1 and '1') and one value is lost",
                        field=what,
                    )
            stack.extend(v for v in item.values() if _container(v))
        elif isinstance(item, Sequence):
            stack.extend(v for v in item if _container(v))


def _container(value: object) -> bool:
    """A value `dump_json` writes as an object or an array (see `_plain`)."""
    return isinstance(value, Mapping) or (
        isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray | memoryview)
    )


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
