"""The S3 layout and environment contract of the original system, exactly."""

from __future__ import annotations

import pytest

from pcr_sdk import BatchLayout, InvalidJobSpecError, PcrInputError

BATCH = "example_c6bc6ee9-0000-4000-8000-000000000000"


def test_layout_of_job_k() -> None:
    layout = BatchLayout(BATCH)
    assert layout.prefix(0) == f"jobs/{BATCH}/000000"
    assert layout.prefix(42) == f"jobs/{BATCH}/000042"
    assert layout.config_key(7) == f"jobs/{BATCH}/000007/config.json"
    assert layout.output_key(7) == f"jobs/{BATCH}/000007/output.json"
    assert layout.resource_key(7, "arrays/x.npy") == f"jobs/{BATCH}/000007/arrays/x.npy"


def test_environment_contract_names_and_values() -> None:
    env = BatchLayout(BATCH).environment(bucket="bkt", index=3)
    assert env == {
        "S3_JOB_BUCKET": "bkt",
        "S3_JOB_CONFIG_KEY": f"jobs/{BATCH}/000003/config.json",
        "S3_JOB_PREFIX": f"jobs/{BATCH}/000003",
        "S3_OUTPUT_OJBECT_KEY": f"jobs/{BATCH}/000003/output.json",
        "BATCH_ID": BATCH,
    }


@pytest.mark.parametrize("name", ["", "/abs", "../escape", "a/../b", "a//b", "./a", "a/."])
def test_resource_names_cannot_escape_the_prefix(name: str) -> None:
    with pytest.raises(InvalidJobSpecError):
        BatchLayout(BATCH).resource_key(0, name)


def test_negative_index_is_rejected() -> None:
    with pytest.raises(PcrInputError, match=">= 0"):
        BatchLayout(BATCH).prefix(-1)
