"""Inputs whose object keys are not all strings are refused before any call (before:
`submit_job({"k": "x", 1: "a", "1": "b"})` was accepted, and the job got `{"k": "x", "1": "b"}`:
`"a"` was lost without a word)."""

from __future__ import annotations

from typing import Any, cast

import pytest

from pcr_sdk import InvalidJobSpecError
from pcr_sdk._private.wire.jsonio import dump_json
from pcr_sdk.advanced import JobSpec

COLLIDING = {"k": "x", 1: "a", "1": "b"}


@pytest.mark.parametrize(
    "data",
    [
        COLLIDING,
        {1: "a"},
        {"deep": [{"ok": 1}, {2.5: "float key"}]},
        {"nested": {"more": {None: 0}}},
        [{"fine": 1}, {True: "bool key"}],
        ({"t": 1}, {3: "in a tuple"}),
    ],
    ids=["colliding", "int", "float in a list", "None deep", "bool in a list", "in a tuple"],
)
def test_a_key_that_is_not_a_string_is_refused(data: Any) -> None:  # an untyped caller's
    with pytest.raises(InvalidJobSpecError, match="not a string"):
        JobSpec.of(data)


def test_the_error_names_the_input_of_a_submit_jobs_call() -> None:
    with pytest.raises(InvalidJobSpecError, match="input 3") as info:
        JobSpec.of(cast("Any", COLLIDING), what="input 3")
    assert info.value.field == "input 3"


def test_string_keys_of_every_depth_pass() -> None:
    spec = JobSpec.of({"a": {"b": [{"c": {"d": 1}}]}, "e": []})
    assert spec.input == {"a": {"b": [{"c": {"d": 1}}]}, "e": []}


def test_a_worker_output_keeps_its_old_freedom() -> None:
    """Only inputs are checked: the worker serializes outputs with `dump_json` as before."""
    assert dump_json({1: "a"}, what="job output") == '{"1":"a"}'
