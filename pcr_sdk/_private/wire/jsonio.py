"""JSON as pcr-sdk writes it: compact UTF-8, no NaN or Infinity, checked before anything is sent.

Light on purpose (standard library only): the worker serializes outputs with it too.
"""

from __future__ import annotations

import json

from pcr_sdk._private.errors import InvalidJobSpecError


def dump_json(data: object, *, what: str = "job input", string_keys: bool = False) -> str:
    """Serialize `data` as compact JSON text that encodes to UTF-8.

    Raises `InvalidJobSpecError` (naming `what`) for anything JSON cannot carry: non-JSON types,
    NaN and Infinity, nesting too deep to serialize, and strings with lone surrogates. With
    `string_keys`, also for an object key that is not a string: `json` would turn `1` into
    `"1"`, and `{1: "a", "1": "b"}` would lose `"a"` without a word.
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
    if string_keys:
        _check_keys(data, what)
    return text


def _check_keys(data: object, what: str) -> None:
    """Every object key in `data` is a string (run after `json.dumps`: no cycles, not too deep)."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key in item:
                if not isinstance(key, str):
                    raise InvalidJobSpecError(
                        f"{what} has an object key that is not a string: {key!r} "
                        f"({type(key).__name__}); JSON turns keys into strings, where two keys "
                        "may collide (1 and '1') and one value is lost",
                        field=what,
                    )
            stack.extend(v for v in item.values() if isinstance(v, (dict, list, tuple)))
        elif isinstance(item, (list, tuple)):
            stack.extend(v for v in item if isinstance(v, (dict, list, tuple)))


def dump_json_bytes(data: object, *, what: str = "job input") -> bytes:
    """`dump_json(data)` as UTF-8 bytes."""
    return dump_json(data, what=what).encode("utf-8")
