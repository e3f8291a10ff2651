"""Batch names and ids: the seed's rule, checked before any network call."""

from __future__ import annotations

import string
import uuid

import pytest
from hypothesis import given

from pcr_sdk import BatchId, BatchName, InvalidBatchNameError, PcrError
from tests.support.strategies import near_batch_names, valid_batch_names

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
