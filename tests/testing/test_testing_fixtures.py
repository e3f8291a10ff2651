"""The pytest plugin: `moto_world`, `aws_clients` and the `moto_world` marker."""

from __future__ import annotations

import pytest

from pcr_sdk._private.edge.clients import AwsClients
from pcr_sdk.testing import MotoWorld

pytest_plugins = ["pcr_sdk.testing.fixtures"]


def test_moto_world_is_entered(moto_world: MotoWorld, aws_clients: AwsClients) -> None:
    assert aws_clients is moto_world.clients
    aws_clients.s3.head_bucket(Bucket=moto_world.bucket)
    assert moto_world.script.polls_to_finish == 0


@pytest.mark.moto_world(polls_to_finish=2, bucket="marked-bucket")
def test_marker_configures_the_world(moto_world: MotoWorld) -> None:
    assert moto_world.script.polls_to_finish == 2
    moto_world.clients.s3.head_bucket(Bucket="marked-bucket")
