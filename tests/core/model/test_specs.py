"""`JobDefinitionSpec` and `JobSpec`: AWS's limits and strict JSON, checked before any network
call."""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pcr_sdk import InvalidJobSpecError, JobDefinitionSpec, JsonValue
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
