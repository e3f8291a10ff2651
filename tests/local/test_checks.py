"""The engine's request checks: resource requirements and paging tokens, as AWS checks them."""

from __future__ import annotations

import pytest

from pcr_sdk.local import _checks as check
from pcr_sdk.local._capacity import Resources
from pcr_sdk.local._refusals import ServiceError


def test_resource_requirements_override_legacy_and_definition_values() -> None:
    definition = {
        "vcpus": 2,
        "memory": 512,
        "resourceRequirements": [{"type": "GPU", "value": "1"}],
    }
    assert check.job_resources(definition, {}) == Resources(2, 512, 1)
    assert check.job_resources(definition, {"vcpus": 4}) == Resources(4, 512, 1)
    modern = {"resourceRequirements": [{"type": "VCPU", "value": "0.5"}], "vcpus": 8}
    assert check.job_resources(modern, {"vcpus": 4}).vcpus == 0.5  # legacy never overrides RR
    override = {"resourceRequirements": [{"type": "VCPU", "value": "3"}]}
    assert check.job_resources(modern, override).vcpus == 3
    assert check.job_resources({}, {}) == Resources(1, 0, 0)
    for bad in ([{"type": "CPU", "value": "1"}], [{"type": "MEMORY", "value": "2"}]):
        with pytest.raises(ServiceError):
            check.job_resources({"resourceRequirements": bad}, {})


def test_paging_tokens_are_checked() -> None:
    token = check.encode_token("jobs", 42)
    assert check.decode_token("jobs", token) == 42
    for bad in ("nonsense", check.encode_token("definitions", 42)):
        with pytest.raises(ServiceError, match="nextToken"):
            check.decode_token("jobs", bad)
