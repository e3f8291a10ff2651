"""The pytest plugin: `moto_world`, `aws_clients`, the `moto_world` marker, and what it costs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pcr_sdk._private.edge.clients import AwsClients
from pcr_sdk.testing import MotoWorld

pytestmark = pytest.mark.integration

pytest_plugins = ["pcr_sdk.testing.fixtures"]


def test_moto_world_is_entered(moto_world: MotoWorld, aws_clients: AwsClients) -> None:
    assert aws_clients is moto_world.clients
    aws_clients.s3.head_bucket(Bucket=moto_world.bucket)
    assert moto_world.script.polls_to_finish == 0


@pytest.mark.moto_world(polls_to_finish=2, bucket="marked-bucket")
def test_marker_configures_the_world(moto_world: MotoWorld) -> None:
    assert moto_world.script.polls_to_finish == 2
    moto_world.clients.s3.head_bucket(Bucket="marked-bucket")


@pytest.mark.subprocess
def test_registering_the_plugin_loads_no_moto() -> None:
    """A conftest.py that enables the plugin makes a run that needs no world pay nothing for
    moto: it is imported when a test first asks for `moto_world`."""
    code = (
        "import sys\n"
        "import pcr_sdk.testing.fixtures, tests.conftest\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'moto', 'pcr_sdk'}))\n"
        "from pcr_sdk.testing import MotoWorld\n"
        "print('moto' in sys.modules)\n"
    )
    root = Path(__file__).resolve().parents[2]
    found = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert found.stdout.splitlines() == ["['pcr_sdk']", "True"]
