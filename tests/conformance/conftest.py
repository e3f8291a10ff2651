"""The conformance suite's target: the local backend (default) or a real AWS account.

`PCR_CONFORMANCE_AWS=1` points every test at real AWS Batch, S3 and CloudWatch Logs (see
README.md for the variables); otherwise a `LocalBackend` answers. Tests talk to plain boto3
clients only, so the same code checks both.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conformance.target import Target, open_target


@pytest.fixture(scope="session")
def target() -> Iterator[Target]:
    """The backend under test, shared by the whole suite; its definitions deregistered after."""
    targets = open_target()
    found = next(targets)
    try:
        yield found
    finally:
        for arn in found.definitions:
            found.batch.deregister_job_definition(jobDefinition=arn)
        targets.close()
