"""Batch names, ids, job definition and job specs: the rules, checked before any network call."""

from __future__ import annotations

import math
import string
import uuid
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pcr_sdk import (
    BatchId,
    BatchName,
    InvalidBatchNameError,
    InvalidJobSpecError,
    JobDefinitionSpec,
    JobStatus,
    JsonValue,
    PcrError,
)
from pcr_sdk.advanced import JobSpec
from tests.strategies import near_batch_names, valid_batch_names

ALLOWED_FIRST = set(string.ascii_letters + string.digits)
ALLOWED_REST = ALLOWED_FIRST | {"-", "_"}


def rule_holds(name: str) -> bool:
    """The seed's rule, written independently of the implementation."""
    return (
        1 <= len(name) <= 90
        and name[0] in ALLOWED_FIRST
        and all(c in ALLOWED_REST for c in name[1:])
    )


@given(near_batch_names())
def test_batch_name_accepted_exactly_when_rule_holds(name: str) -> None:
    if rule_holds(name):
        assert str(BatchName.of(name)) == name
    else:
        with pytest.raises(InvalidBatchNameError) as info:
            BatchName.of(name)
        assert info.value.name == name
        assert info.value.reason in {"empty", "length", "first-character", "characters"}


@given(valid_batch_names())
def test_batch_id_fits_aws_name_limit_and_round_trips(name: str) -> None:
    batch_id = BatchId.new(name)
    text = str(batch_id)
    assert len(text) <= 128
    assert text.startswith(name + "_")
    assert BatchId.parse(text) == batch_id


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("a" * 91, "length"),
        ("-abc", "first-character"),
        ("_abc", "first-character"),
        ("ab c", "characters"),
        ("abc\n", "characters"),
        ("\u00e9t\u00e9", "first-character"),
        ("a\u0660", "characters"),  # an Arabic-Indic digit: str.isdigit() but not ASCII
    ],
)
def test_batch_name_error_names_the_broken_part(name: str, reason: str) -> None:
    with pytest.raises(InvalidBatchNameError) as info:
        BatchName.of(name)
    assert info.value.reason == reason
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, PcrError)


def test_ninety_characters_pass_and_ninety_one_fail() -> None:
    assert str(BatchName.of("a" * 90)) == "a" * 90
    with pytest.raises(InvalidBatchNameError, match="91 characters"):
        BatchName.of("a" * 91)


def test_batch_name_model_validates_through_pydantic_too() -> None:
    assert BatchName.model_validate("ok-name").root == "ok-name"
    with pytest.raises(ValueError, match="start with"):
        BatchName.model_validate("-bad")


def test_batch_id_uses_the_injected_uuid_factory() -> None:
    fixed = uuid.UUID("c6bc6ee9-0000-4000-8000-000000000000")
    assert str(BatchId.new("example", lambda: fixed)) == f"example_{fixed}"


@pytest.mark.parametrize(
    "text", ["example", "example-c6bc6ee9-0000-4000-8000-000000000000", "x_" + "z" * 36]
)
def test_batch_id_parse_rejects_non_ids(text: str) -> None:
    with pytest.raises(InvalidBatchNameError):
        BatchId.parse(text)


def test_job_status_finished_states() -> None:
    finished = {s for s in JobStatus if s.is_finished}
    assert finished == {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.EXPIRED}
    assert len(JobStatus) == 8  # AWS Batch's seven, and pcr-sdk's EXPIRED


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
