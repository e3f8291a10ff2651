"""The conformance suite's targets: the local backend and a MotoWorld (default), or real AWS.

`PCR_CONFORMANCE_AWS=1` points every test at real AWS Batch, S3 and CloudWatch Logs (see
README.md for the variables); otherwise every test runs twice: against a `LocalBackend` and
against a `MotoWorld` (the same engine on its stepping scheduler). Tests talk to plain boto3
clients only, so the same code checks all three.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conformance.target import KINDS, Kind, Target, open_target


@pytest.fixture(
    scope="session",
    params=[
        pytest.param(kind, marks=pytest.mark.containers) if kind == "containers" else kind
        for kind in KINDS
    ],
)
def kind(request: pytest.FixtureRequest) -> Kind:
    """Which target; session-scoped, so that pytest runs each target's tests together."""
    kind: Kind = request.param
    return kind


@pytest.fixture(scope="session")
def shared_target(kind: Kind) -> Iterator[Target | None]:
    """The local backend or AWS, for the whole suite; its definitions deregistered after."""
    if kind == "moto":
        yield None
        return
    targets = open_target(kind)
    found = next(targets)
    try:
        yield found
    finally:
        for arn in found.definitions:
            found.batch.deregister_job_definition(jobDefinition=arn)
        targets.close()


@pytest.fixture(scope="module")
def target(kind: Kind, shared_target: Target | None) -> Iterator[Target]:
    """The backend under test: the shared one, or a MotoWorld for each module."""
    if shared_target is not None:
        yield shared_target
        return
    targets = open_target(kind)
    try:
        yield next(targets)
    finally:
        targets.close()
