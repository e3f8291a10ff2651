"""The stack's job role (and the instance role jobs may use) can no longer write a batch's
manifest or its rerun lease (before: with PutObject on jobs/*, a job could rewrite the
manifest, and other processes adopted what it said). Workers never need to: they read their
input and write their output and resources under their own prefix."""

from __future__ import annotations

import fnmatch
from typing import Any

import pytest

from pcr_sdk import BatchLayout
from tests.infra._cfn import conditions, load_template, resolve_ifs

BUCKET = "the-bucket"
LAYOUT = BatchLayout("b_00000000-0000-4000-8000-000000000000")


def _arn(key: str) -> str:
    return f"arn:aws:s3:::{BUCKET}/{key}"


def _resources(statement: dict[str, Any]) -> list[str]:
    found = statement["Resource"]
    found = found if isinstance(found, list) else [found]
    texts = [item["Fn::Sub"] if isinstance(item, dict) else item for item in found]
    return [t.replace("${AWS::Partition}", "aws").replace("${JobBucket}", BUCKET) for t in texts]


def _decide(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    """IAM's rule for one identity policy: an explicit Deny wins, then an Allow, else no."""
    matching = [
        s["Effect"]
        for s in statements
        if action in s["Action"]
        and any(fnmatch.fnmatchcase(resource, pattern) for pattern in _resources(s))
    ]
    return "Deny" not in matching and "Allow" in matching


def _statements(role: str) -> list[dict[str, Any]]:
    template = load_template()
    truth = conditions(template, {"InstanceRoleDataAccess": "true"})
    resource = resolve_ifs(template["Resources"][role], truth)
    (policy,) = resource["Properties"]["Policies"]
    return list(policy["PolicyDocument"]["Statement"])


@pytest.mark.parametrize("role", ["JobRole", "EcsInstanceRole"])
def test_a_job_writes_its_own_data_but_never_the_batch_records(role: str) -> None:
    statements = _statements(role)
    mine = [LAYOUT.output_key(3), LAYOUT.config_key(3), LAYOUT.resource_key(3, "plots/a.png")]
    for key in mine:
        assert _decide(statements, "s3:PutObject", _arn(key)), key
        assert _decide(statements, "s3:GetObject", _arn(key)), key
    guarded = [
        f"{LAYOUT.manifest_prefix}000000-0123456789ab.json",
        LAYOUT.session_key("0123456789ab"),
        LAYOUT.session_key("0123456789ab", closed=True),
        LAYOUT.lease_key,
    ]
    for key in guarded:
        assert not _decide(statements, "s3:PutObject", _arn(key)), key
        assert _decide(statements, "s3:GetObject", _arn(key)), key  # reading does no harm
