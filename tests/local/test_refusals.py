"""The one table of what the engine refuses (`_refusals`).

The table is the only place the engine makes an error answer, and every row is used
(`tests/meta/test_docs_reference.py` checks that the docs page lists every row).
"""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from pcr_sdk._private.wire import facts
from pcr_sdk.local import LocalBackend
from pcr_sdk.local._refusals import CHECKS

LOCAL = Path(__file__).resolve().parents[2] / "pcr_sdk" / "local"


def _engine_sources() -> dict[str, str]:
    return {
        path.name: path.read_text(encoding="utf-8")
        for path in sorted(LOCAL.glob("*.py"))
        if path.name != "_refusals.py"
    }


def test_every_check_is_used_by_the_engine() -> None:
    text = "\n".join(_engine_sources().values())
    unused = [name for name in CHECKS if not re.search(rf"\brefusal\.{name}\b", text)]
    assert unused == []


def test_the_engine_answers_errors_only_through_the_table() -> None:
    """No module of the engine builds an error answer of its own (the gateway's signature and
    transport refusals are HTTP answers, not Batch or Logs checks)."""
    for name, text in _engine_sources().items():
        assert "ServiceError(" not in text, name
        assert "client_exception" not in text, name


@pytest.mark.parametrize("name", list(CHECKS))
def test_every_check_has_a_source_a_code_and_a_well_formed_message(name: str) -> None:
    check = CHECKS[name]
    assert check.source is None or check.source.startswith("https://docs.aws.amazon.com/"), name
    assert check.seen is None or check.seen.startswith("https://github.com/"), name
    assert check.code in {
        "ClientException",
        "InvalidParameterException",
        "ResourceNotFoundException",
        "SerializationException",
        "InvalidOperationException",
        "UnknownOperationException",
    }
    fields = {field for _, field, _, _ in string.Formatter().parse(check.message) if field}
    assert check.refuse(**dict.fromkeys(fields, "x")).code == check.code
    assert check.operations
    assert check.refused


@pytest.mark.subprocess
def test_in_process_clients_are_refused_alike(tmp_path: Path) -> None:
    """`backend.clients` answers in-process, without the socket's body cap: a 1 MB tag value
    still gets AWS's refusal from the engine."""
    with LocalBackend(["true"], cwd=tmp_path) as local:
        batch = local.clients.batch
        with pytest.raises(ClientError) as err:
            batch.register_job_definition(
                jobDefinitionName="big-tag",
                type="container",
                containerProperties={"image": "i", "vcpus": 1, "memory": 16},
                tags={"big": "v" * 1_000_000},
            )
        assert err.value.response["Error"]["Code"] == "ClientException"
        assert "Job definition size must be less than 24 KiB" in str(err.value)
        arn = batch.register_job_definition(
            jobDefinitionName="tagged",
            type="container",
            containerProperties={"image": "i", "vcpus": 1, "memory": 16},
        )["jobDefinitionArn"]
        for tags, wording in [
            ({"big": "v" * 1_000_000}, "a tag value is at most 256 characters"),
            ({"aws:mine": "x"}, "reserved for AWS use"),
            ({f"k{n}": "v" for n in range(facts.MAX_TAGS + 1)}, "at most 50 tags"),
        ]:
            with pytest.raises(ClientError, match=wording):
                batch.tag_resource(resourceArn=arn, tags=tags)
        assert batch.list_tags_for_resource(resourceArn=arn)["tags"] == {}
