"""The README's `pcr_sdk.testing` example, as a user's test file would have it.

The lines down to `seams=world.seams)` are the README's, unchanged (only the `...` is filled
in, with what a user's test goes on to do); the file must keep passing whatever runs Batch
underneath.
"""

from pathlib import Path

import pytest

from pcr_sdk import JobStatus, JobSubmitter
from pcr_sdk.testing import Fault, MotoWorld

pytestmark = pytest.mark.integration

README = Path(__file__).parents[2] / "README.md"


# fmt: off
def test_my_pipeline() -> None:
    with MotoWorld(polls_to_finish=2) as world:
        world.script.worker(lambda d: {"x+y": d["x"] + d["y"]})     # simulated container
        world.script.fail(index=1, exit_code=3, log_lines=["boom"])  # scripted failure
        world.faults.add(service="batch", operation="SubmitJob", kind=Fault.THROTTLE)
        s = JobSubmitter("t", world.queue, "img", world.bucket, clients=world.clients,
                         seams=world.seams)
        # fmt: on
        ok = s.submit_job({"x": 1, "y": 2})
        failing = s.submit_job({"x": 3, "y": 4})
        s.wait_until_jobs_finished()

        assert s.get_output_json(ok) == {"x+y": 3}
        assert s.get_result(failing).status is JobStatus.FAILED
        assert s.get_result(failing).exit_code == 3
        assert s.logs(failing) == ["boom"]
        assert s.get_all_outputs()[1] is None
        assert len(world.submitted()) == 2  # SubmitJob calls as sent (retries not doubled)
        assert world.faults.injected == 1
        s.close()


def _example(text: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index("def test_my_pipeline() -> None:")
    end = next(i for i in range(start, len(lines)) if "seams=world.seams)" in lines[i])
    return lines[start : end + 1]


def test_the_example_above_is_the_readmes() -> None:
    assert _example(Path(__file__).read_text()) == _example(README.read_text())
