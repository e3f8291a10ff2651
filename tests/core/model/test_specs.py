"""`JobDefinitionSpec`, `JobSpec` and `CheckedInputs`: AWS's limits and strict JSON, checked
before any network call."""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from pcr_sdk import InvalidJobSpecError, JobDefinitionSpec, JsonValue
from pcr_sdk._private.model.specs import CheckedInputs
from pcr_sdk.advanced import JobSpec


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"platform": "FARGATE", "gpus": 1, "execution_role_arn": "r"}, "GPUs"),
        ({"platform": "FARGATE"}, "execution_role_arn"),
        ({"platform": "FARGATE", "vcpus": 3, "execution_role_arn": "r"}, "vCPUs"),
        ({"platform": "FARGATE", "vcpus": 1, "execution_role_arn": "r"}, "2048 to 8192 MiB"),
        ({"execution_role_arn": "r"}, "FARGATE"),
    ],
)
def test_fargate_rules(fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidJobSpecError, match=message):
        JobDefinitionSpec.build(image="img", **fields)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"timeout_seconds": 59}, "timeout_seconds"),
        ({"memory_mib": 0}, "memory_mib"),
        ({"vcpus": 0}, "vcpus"),
        ({"gpus": -1}, "gpus"),
        ({"retry_attempts": 11}, "retry_attempts"),
        ({"environment": {"AWS_BATCH_X": "1"}}, "environment"),
        ({"environment": {"S3_JOB_BUCKET": "other"}}, "environment"),
        ({"environment": {"1BAD": "1"}}, "environment"),
        ({"tags": {"aws:x": "1"}}, "tags"),
        ({"image": ""}, "image"),
    ],
)
def test_job_definition_limits(fields: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidJobSpecError) as info:
        JobDefinitionSpec.build(**{"image": "python:3.11", **fields})
    assert info.value.field == field


def test_job_definition_defaults_have_no_gpu() -> None:
    spec = JobDefinitionSpec(image="python:3.11")
    assert (spec.vcpus, spec.gpus, spec.memory_mib, spec.retry_attempts) == (1, 0, 1024, 1)


@pytest.mark.parametrize("bad", [math.nan, math.inf, {"x": -math.inf}, {"s": {1, 2}}, object()])
def test_job_input_must_be_strict_json(bad: Any) -> None:  # an untyped caller's input
    with pytest.raises(InvalidJobSpecError, match="JSON"):
        JobSpec.of(bad)


def test_job_spec_dependencies() -> None:
    assert JobSpec.of({}, ["a", "b", "a"]).depends_on == ("a", "b")
    with pytest.raises(InvalidJobSpecError, match="at most 20"):
        JobSpec.of({}, [f"j{i}" for i in range(21)])
    with pytest.raises(InvalidJobSpecError):
        JobSpec.of({}, [""])


@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.text()
        | st.floats(allow_nan=False, allow_infinity=False),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
        max_leaves=10,
    )
)
def test_job_input_round_trips(data: JsonValue) -> None:
    assert JobSpec.of(data).input == data


def test_any_mapping_and_sequence_is_json_but_bytes_are_not() -> None:
    """What the `JsonValue` type lets through, run time takes: any Mapping, any Sequence."""
    data = MappingProxyType({"r": range(3), "t": ("a", 1.5), "m": MappingProxyType({"k": None})})
    assert JobSpec.of(data).input == {"r": [0, 1, 2], "t": ["a", 1.5], "m": {"k": None}}
    with pytest.raises(InvalidJobSpecError, match="bytes"):
        JobSpec.of({"b": b"x"})  # a Sequence[int] to a type checker, not JSON


class _Point(BaseModel):
    x: int


def test_checked_inputs_keep_sizes_not_texts_and_encode_each_again() -> None:
    """`CheckedInputs`: every input checked once (sizes kept), its JSON made again when sent."""
    model = _Point(x=3)
    checked = CheckedInputs.check([{"a": "é"}, [1, 2], model], ["job-1", "job-1"])
    assert list(checked.sizes) == [len('{"a":"é"}'.encode()), 5, 7]
    assert checked.depends_on == ("job-1",)
    assert checked.encoded(0) == '{"a":"é"}'.encode()
    assert [spec.input for spec in checked] == [{"a": "é"}, [1, 2], {"x": 3}]
    assert checked[-1] == JobSpec.of(model, ["job-1"])
    tail = checked[1:]
    assert len(tail) == 2
    assert tail.encoded(1) == b'{"x":3}'
    with pytest.raises(IndexError):
        checked[3]
    with pytest.raises(ValueError, match="step"):
        checked[::2]


def test_checked_inputs_name_the_bad_input_and_refuse_one_changed_since() -> None:
    with pytest.raises(InvalidJobSpecError, match="input 1"):
        CheckedInputs.check([{"ok": 1}, {"bad": {1, 2}}])
    with pytest.raises(InvalidJobSpecError, match="input 0"):
        CheckedInputs.check([{1: "a", "1": "b"}])  # type: ignore[dict-item]
    with pytest.raises(InvalidJobSpecError, match="at most 20"):
        CheckedInputs.check([{}], [f"j{i}" for i in range(21)])
    data = {"n": 1}
    later = CheckedInputs.check([{}, data])[1:]
    data["n"] = 1000
    with pytest.raises(InvalidJobSpecError, match="input 1 changed"):
        later.encoded(0)  # its position in the call, not in the slice


def test_checked_inputs_take_a_generator_once() -> None:
    checked = CheckedInputs.check({"i": i} for i in range(3))
    assert [spec.input for spec in checked] == [{"i": 0}, {"i": 1}, {"i": 2}]
