"""A process's session in a batch ends for good when it closes (found by the fault
machine).

Closing a session writes its closed record. When that PutObject's answer is lost, the record
may be in S3 although the call raised: the process then kept the session "open" and reused it
when it submitted again (a rerun took the lease, an attached process joined), so every other
process read that session as ended while it submitted, and a watcher's wait ended (and
deregistered the definition) under a live submitter. Its heartbeat was stopped too, so even
without the record it went stale while in use. Now the next submission finishes the close and
opens a fresh session. And a submission racing `close()` no longer opens a session after
`close()` returned (it kept the batch open for every watcher).
"""

from __future__ import annotations

from typing import Any

import pytest

from pcr_sdk import AwsError, BatchClosedError
from pcr_sdk.testing import Fault, MotoWorld
from tests.support.fakes import FakeClock
from tests.support.sharing import active, sessions
from tests.support.submitters import attach_submitter, new_submitter

pytestmark = pytest.mark.integration


def test_a_rerun_after_a_close_whose_answer_was_lost_keeps_the_batch_open() -> None:
    with MotoWorld(polls_to_finish=1) as world:
        fixed: set[int] = set()

        def work(data: dict[str, int]) -> dict[str, int]:
            if data["n"] == 1 and 1 not in fixed:
                raise ValueError("fails until fixed")
            return data

        world.script.worker(work)
        creator = new_submitter(world)
        creator.submit_jobs([{"n": 0}, {"n": 1}], array=False)
        creator._manifest.flush()
        session = creator._presence.session
        first = session.id
        # the wait writes its session's closed record, and again on the way out: every attempt
        # reaches S3, and every answer is lost
        world.faults.add(service="s3", operation="PutObject", kind=Fault.LOST_RESPONSE, times=16)
        with pytest.raises(AwsError):
            creator.wait_until_jobs_finished()
        world.faults.clear()
        assert f"session-{first}-closed.json" in sessions(world, creator)

        fixed.add(1)
        watcher = attach_submitter(world, creator.get_batch_id(), FakeClock())
        assert creator.resubmit_failed()  # takes the lease: it submits again
        assert session.is_open
        assert session.id != first
        assert f"session-{session.id}.json" in sessions(world, creator)
        state = watcher._follower.look()
        assert not state.closed, f"a watcher reads the rerunning process as gone: {state}"
        assert active(world, creator.get_batch_id())


def test_an_attached_process_that_submits_after_a_failed_close_opens_a_new_session() -> None:
    with MotoWorld(polls_to_finish=1) as world:
        creator = new_submitter(world)
        creator.submit_job({"n": 0})
        other = attach_submitter(world, creator.get_batch_id())
        other.submit_job({"n": 1})  # joins: its session opens
        session = other._presence.session
        first = session.id
        world.faults.add(service="s3", operation="PutObject", kind=Fault.SERVER_ERROR, times=8)
        with pytest.raises(AwsError):
            session.close()
        world.faults.clear()
        assert not session.is_open  # closing: not reused, not renewed
        other.submit_job({"n": 2})  # joins again
        assert other._presence.session.is_open
        assert session.id != first
        names = sessions(world, creator)
        assert f"session-{first}-closed.json" in names  # the failed close was finished first
        assert f"session-{session.id}.json" in names


def test_a_submission_racing_close_opens_no_session_after_close_returned() -> None:
    """`close()` lands between a submission's first check and its joining the batch: the
    submission is refused, and no session opens (it would have kept the batch open, heart-
    beating, for every watcher, although `close()` had returned)."""
    with MotoWorld(polls_to_finish=1) as world:
        creator = new_submitter(world)
        creator.submit_job({"n": 0})
        ledger = creator._ledger
        check = ledger.check_open

        def check_then_close(*args: Any, **kwargs: Any) -> None:
            check(*args, **kwargs)
            creator.close()  # another thread's close(), between the check and the join

        ledger.check_open = check_then_close  # type: ignore[method-assign]
        with pytest.raises(BatchClosedError):
            creator.submit_job({"n": 1})
        assert not creator._presence.session.is_open
        names = sessions(world, creator)
        opened = {name for name in names if not name.endswith("-closed.json")}
        assert opened == {name.replace("-closed", "") for name in names if name not in opened}
