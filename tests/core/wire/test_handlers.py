"""Typed worker handlers: models found on any handler, inputs validated, outputs dumped."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from datetime import date
from typing import TYPE_CHECKING, Any

import pytest

from pcr_sdk import BatchLayout
from pcr_sdk._private.wire.handlers import InvalidInputError, handler_models, typed
from pcr_sdk.worker import INVALID_INPUT_EXIT_CODE, run
from tests.core.conftest import BUCKET
from tests.support.models import Sum, Total, add, add_as_dict

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


BATCH = "typed_c6bc6ee9-0000-4000-8000-000000000000"


class Adder:
    def __call__(self, data: Sum) -> Total:
        return add(data)

    def method(self, data: Sum) -> Total:
        return add(data)


def unresolvable(data: NotDefinedAnywhere) -> Total:  # type: ignore[name-defined] # on purpose  # noqa: F821
    return Total(total=data["x"], day=date(2024, 1, 1))


def job(s3: S3Client, payload: object) -> dict[str, str]:
    """The environment of job 0 whose config.json is `payload`."""
    layout = BatchLayout(BATCH)
    s3.put_object(Bucket=BUCKET, Key=layout.config_key(0), Body=json.dumps(payload).encode())
    return {**layout.environment(bucket=BUCKET, index=0), "AWS_BATCH_JOB_ID": "job-1"}


def output(s3: S3Client, environ: dict[str, str]) -> Any:
    body = s3.get_object(Bucket=BUCKET, Key=environ["S3_OUTPUT_OJBECT_KEY"])["Body"].read()
    return json.loads(body)


@pytest.mark.integration
def test_a_typed_handler_gets_a_model_and_its_model_is_saved_as_json(s3: S3Client) -> None:
    environ = job(s3, {"x": 2, "y": "3", "day": "2024-05-06"})
    run(add, environ=environ, s3=s3)
    assert output(s3, environ) == {"total": 5, "price": "1.50", "day": "2024-05-06"}


@pytest.mark.integration
def test_an_invalid_input_exits_2_with_the_reason_and_the_handler_never_runs(
    s3: S3Client, caplog: pytest.LogCaptureFixture
) -> None:
    called: list[object] = []

    def handler(data: Sum) -> Total:
        called.append(data)
        return add(data)

    environ = job(s3, {"x": "two", "z": 1})
    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as info:
        run(handler, environ=environ, s3=s3)
    assert info.value.code == INVALID_INPUT_EXIT_CODE == 2
    assert called == []
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "invalid input, the handler was not called" in record.getMessage()
    assert "not a valid Sum: 2 error(s): x: Input should be a valid integer" in record.getMessage()
    assert "y: Field required" in record.getMessage()
    assert record.exc_text is None, "a clear line, not a traceback"
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=environ["S3_JOB_PREFIX"])
    assert [o["Key"] for o in listed["Contents"]] == [environ["S3_JOB_CONFIG_KEY"]]


@pytest.mark.integration
def test_a_returned_dict_is_validated_against_the_return_model(s3: S3Client) -> None:
    environ = job(s3, {"x": 1, "y": 1})
    run(add_as_dict, environ=environ, s3=s3)
    assert output(s3, environ) == {"total": 2, "price": "1.50", "day": "2024-01-02"}

    def broken(data: Sum) -> Total:
        return {"total": "many"}  # type: ignore[return-value] # on purpose

    with pytest.raises(SystemExit) as info:
        run(broken, environ=job(s3, {"x": 1, "y": 1}), s3=s3)
    assert info.value.code == 1  # a bug in the handler, not a bad input


@pytest.mark.parametrize(
    "handler", [Adder(), Adder().method, add], ids=["callable object", "bound method", "function"]
)
def test_models_are_found_on_any_kind_of_handler(handler: Any) -> None:
    assert handler_models(handler) == (Sum, Total)
    assert typed(handler)({"x": 1, "y": 2}) == {"total": 3, "price": "1.50", "day": "2024-01-02"}


def test_untyped_and_plain_typed_handlers_get_plain_json() -> None:
    def untyped(data):  # type: ignore[no-untyped-def] # on purpose
        return Total(total=data["x"], day=date(2024, 1, 1))

    def plain(data: dict[str, int]) -> dict[str, int]:
        return data

    assert handler_models(untyped) == (None, None)
    assert handler_models(plain) == (None, None)
    assert typed(plain)({"x": 1}) == {"x": 1}
    # a model returned by an untyped handler is serialized all the same
    assert typed(untyped)({"x": 4}) == {"total": 4, "price": "1.50", "day": "2024-01-01"}
    with pytest.raises(InvalidInputError, match="not a valid Sum"):
        typed(add)({"x": 1})


def test_annotations_that_cannot_be_resolved_leave_the_handler_untyped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        assert handler_models(unresolvable) == (None, None)
    assert "cannot be resolved" in caplog.text
    assert "NotDefinedAnywhere" in caplog.text


@pytest.mark.subprocess
def test_the_worker_loads_pydantic_only_for_model_annotations() -> None:
    probe = (
        "import sys\n"
        "from pcr_sdk._private.wire.handlers import typed\n"
        "def plain(data: dict) -> dict:\n"
        "    return data\n"
        "def untyped(data):\n"
        "    return data\n"
        "assert typed(plain)({'a': 1}) == {'a': 1} and typed(untyped)([1]) == [1]\n"
        "print('pydantic' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "False"
