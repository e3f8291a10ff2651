"""Closing is ordered: a job submitted from inside a callback was still RUNNING
when the wait returned and closed the batch. A wait returns only when no callback runs, and
it waits for the jobs callbacks submitted."""

from __future__ import annotations

import pytest

from pcr_sdk import JobStatus
from pcr_sdk.testing import MotoWorld
from tests.support.sharing import active
from tests.support.submitters import new_submitter

pytestmark = pytest.mark.integration


def test_a_wait_waits_for_the_jobs_its_callbacks_submitted() -> None:
    with MotoWorld(polls_to_finish=2) as world:
        world.script.worker(lambda data: data)
        sub = new_submitter(world)
        chained: list[str] = []

        def then(n: int) -> None:
            if n < 3:  # each job's callback submits the next, with its own callback
                chained.append(sub.submit_job({"n": n + 1}, callback=lambda: then(n + 1)))

        sub.submit_job({"n": 0}, callback=lambda: then(0))
        sub.wait_until_jobs_finished()

        assert len(chained) == 3
        assert [job.job_id for job in sub.jobs][1:] == chained
        assert all(r.status is JobStatus.SUCCEEDED for r in sub.get_results())
        assert active(world, sub.get_batch_id()) == []  # closed after the last one finished
        assert sub._ledger.in_flight == 0
