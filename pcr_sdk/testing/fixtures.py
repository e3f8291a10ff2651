"""pytest fixtures for pcr-sdk's mocked AWS.

Enable them with ``pytest_plugins = ["pcr_sdk.testing.fixtures"]`` in a top-level conftest.py.

``moto_world`` yields an entered `MotoWorld`; ``@pytest.mark.moto_world(**kwargs)`` on a test
passes keyword arguments to it (e.g. ``polls_to_finish=3``). ``aws_clients`` is its clients.

Registering the plugin costs nothing: moto is imported when a test first asks for a world, so
a test run that needs none does not pay for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pcr_sdk._private.edge.clients import AwsClients
    from pcr_sdk.testing._world import MotoWorld

__all__ = ["aws_clients", "moto_world"]


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``moto_world`` marker (so ``--strict-markers`` accepts it)."""
    config.addinivalue_line(
        "markers", "moto_world(**kwargs): keyword arguments for the moto_world fixture's MotoWorld"
    )


@pytest.fixture
def moto_world(request: pytest.FixtureRequest) -> Iterator[MotoWorld]:
    """An entered `MotoWorld`, closed (every patch undone) after the test."""
    from pcr_sdk.testing._world import MotoWorld  # noqa: PLC0415 - moto only when a test needs it

    marker = request.node.get_closest_marker("moto_world")
    kwargs = dict(marker.kwargs) if marker is not None else {}
    with MotoWorld(**kwargs) as world:
        yield world


@pytest.fixture
def aws_clients(moto_world: MotoWorld) -> AwsClients:
    """The world's Batch, S3 and Logs clients."""
    return moto_world.clients
