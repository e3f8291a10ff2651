"""The mock's job table under concurrent SubmitJob, DescribeJobs and ListJobs calls."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from pcr_sdk.testing import MotoWorld
from tests.support.jobs import Jobs

pytestmark = pytest.mark.integration


@pytest.fixture
def eager_thread_switches() -> Iterator[None]:
    """Switch threads as often as the interpreter can, so races show up at once."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


@pytest.mark.usefixtures("eager_thread_switches")
@pytest.mark.slow
def test_submits_racing_describes_and_lists_keep_the_mock_consistent(
    moto_world: MotoWorld, jobs: Jobs
) -> None:
    early = [jobs.submit(i) for i in range(50)]

    def submit_or_look(index: int) -> int:
        if index % 2:
            jobs.submit(index)
            return 1
        return len(jobs.listed()) + len(jobs.describe(*early))

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(submit_or_look, range(50, 250)))
    assert all(n >= 100 for n in results[::2])
    assert len(moto_world.jobs()) == 150
