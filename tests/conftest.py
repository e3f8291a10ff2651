"""Shared test configuration: hypothesis profiles (CI is the default, `HYPOTHESIS_PROFILE=dev`)."""

from __future__ import annotations

import gc
import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

pytest_plugins = ["pcr_sdk.testing.fixtures"]


def pytest_collection_finish(session: object) -> None:
    """Move what collection loaded (service models, modules) out of the collector's way.

    Long-lived objects are scanned again by every full collection; frozen, they are not.
    The fault suite creates many short-lived objects, so this saves a fifth of its time.
    """
    del session
    gc.collect()
    gc.freeze()
