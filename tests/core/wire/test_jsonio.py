"""JSON as pcr-sdk writes it: compact UTF-8, refused before anything is sent when JSON cannot
carry it."""

from __future__ import annotations

import math

import pytest

from pcr_sdk import InvalidJobSpecError, JsonValue
from pcr_sdk._private.wire.jsonio import dump_json, dump_json_bytes


def test_json_is_compact_and_keeps_unicode() -> None:
    assert dump_json({"a": [1, 2.5, None], "ü": "日本"}) == '{"a":[1,2.5,null],"ü":"日本"}'
    assert dump_json_bytes({"ü": 1}) == '{"ü":1}'.encode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"x": math.nan}, "not JSON-serializable"),
        ([math.inf], "not JSON-serializable"),
        ({"s": {1}}, "not JSON-serializable"),
        ({"text": "\ud800"}, "lone surrogate at position 9"),
    ],
)
def test_what_json_cannot_carry_is_a_typed_error_naming_the_input(
    data: object, message: str
) -> None:
    with pytest.raises(InvalidJobSpecError, match=message) as raised:
        dump_json(data, what="input 3")
    assert raised.value.field == "input 3"
    assert str(raised.value).startswith("input 3 ")


def test_nesting_too_deep_to_serialize_is_refused_not_a_recursion_error() -> None:
    deep: JsonValue = 0
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(InvalidJobSpecError, match="nested too deeply"):
        dump_json(deep)
