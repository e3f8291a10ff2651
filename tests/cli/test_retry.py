"""`pcr retry`: rerun a batch's failed jobs from the command line (MotoWorld).

It says what it found, then what it did, then how the reruns went; old failures are never
worded as new ones; --dry-run shows the reruns by failure kind and sends nothing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import Result

from pcr_sdk import JobSubmitter, SilentProgress
from pcr_sdk.advanced import Seams
from pcr_sdk.cli._runtime import Runtime
from pcr_sdk.testing import MotoWorld
from tests.support.cli import assert_clean_exit, invoke
from tests.support.fakes import FakeClock

pytestmark = pytest.mark.subprocess


def retry(world: MotoWorld, *args: str, where: bool = True) -> Result:
    clock = FakeClock()
    runtime = Runtime(aws_clients=lambda region: world.clients, clock=clock, sleep=clock.sleep)
    flags = ["--queue", world.queue, "--bucket", world.bucket] if where else []
    return invoke(["retry", *args, *flags], obj=runtime)


def failed_batch(world: MotoWorld, broken: set[int], *, jobs: int = 4) -> str:
    def work(data: Any) -> dict[str, int]:
        if data["n"] in broken:
            raise ValueError("broken")
        return {"n": data["n"]}

    world.script.worker(work)
    clock = FakeClock()
    with JobSubmitter(
        "cli-retry", world.queue, "img", world.bucket, clients=world.clients,
        progress=SilentProgress(), seams=Seams(clock=clock, sleep=clock.sleep),
    ) as sub:  # fmt: skip
        sub.submit_jobs([{"n": n} for n in range(jobs)], array=False)
        sub.wait_until_jobs_finished()
        return sub.get_batch_id()


def test_retry_says_what_it_found_did_and_how_the_reruns_went() -> None:
    with MotoWorld() as world:
        broken = {1, 2}
        batch_id = failed_batch(world, broken)
        broken.clear()
        result = retry(world, batch_id, "--wait")
        assert_clean_exit(result, 0)
        line = json.loads(result.stdout)
        assert len(line["resubmitted"]) == 2
        assert line["counts"] == {"SUCCEEDED": 4}
        assert line["kinds"] == {"non-zero-exit": 2}
        said = result.stderr
        found = said.index("found 2 failed job(s) from attempt 1: 2 non-zero-exit")
        did = said.index("reran 2 job(s) as attempt 2: 2 non-zero-exit")
        went = said.index("reruns: 2 succeeded, 0 failed again")
        assert found < did < went
        assert "batch: 4 job(s), 4 succeeded" in said
        # the old failures are what was found, not news: no failure line for them
        assert "Warning" not in said
        assert "FAILED" not in said
        found_definitions = world.clients.batch.describe_job_definitions(jobDefinitionName=batch_id)
        assert {d["status"] for d in found_definitions["jobDefinitions"]} == {"INACTIVE"}


def test_a_rerun_that_fails_is_reported_as_failing_again() -> None:
    with MotoWorld() as world:
        batch_id = failed_batch(world, {3})
        again = retry(world, batch_id, "--wait", "--kind", "non-zero-exit")
        assert_clean_exit(again, 1)
        assert json.loads(again.stdout)["counts"] == {"SUCCEEDED": 3, "FAILED": 1}
        failed_lines = [line for line in again.stderr.splitlines() if "FAILED" in line]
        assert len(failed_lines) == 1
        assert failed_lines[0].startswith("FAILED again job 3 (attempt 2, ")
        assert "reruns: 0 succeeded, 1 failed again" in again.stderr


def test_dry_run_shows_the_reruns_by_kind_and_sends_nothing() -> None:
    with MotoWorld() as world:
        batch_id = failed_batch(world, {0, 2, 5}, jobs=6)
        sent = len(world.submitted())
        result = retry(world, batch_id, "--dry-run")
        assert_clean_exit(result, 0)
        line = json.loads(result.stdout)
        assert line["dry_run"] is True
        assert line["kinds"] == {"non-zero-exit": 3}
        assert len(line["would_rerun"]) == 3
        assert "would rerun 3 job(s), by failure kind" in result.stderr
        assert "0, 2, 5" in result.stderr  # the indexes, under their kind
        assert "nothing changed (--dry-run)" in result.stderr
        assert len(world.submitted()) == sent
        found = world.clients.batch.describe_job_definitions(jobDefinitionName=batch_id)
        assert {d["status"] for d in found["jobDefinitions"]} == {"INACTIVE"}  # not reopened


def test_a_kind_that_failed_nothing_reruns_nothing_and_says_why() -> None:
    with MotoWorld() as world:
        batch_id = failed_batch(world, {1, 2})
        nothing = retry(world, batch_id, "--kind", "timeout")
        assert_clean_exit(nothing, 0)
        assert json.loads(nothing.stdout) == {"batch_id": batch_id, "resubmitted": []}
        assert "not rerun: 2 failed job(s) (2 non-zero-exit)" in nothing.stderr
        assert "nothing to rerun" in nothing.stderr


def test_without_wait_it_says_how_to_follow_the_reruns() -> None:
    with MotoWorld() as world:
        batch_id = failed_batch(world, {0})
        result = retry(world, batch_id)
        assert_clean_exit(result, 0)
        assert len(json.loads(result.stdout)["resubmitted"]) == 1
        assert f"follow them with: pcr wait {batch_id}" in result.stderr


def test_queue_and_bucket_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with MotoWorld() as world:
        batch_id = failed_batch(world, {1})
        monkeypatch.setenv("PCR_QUEUE", world.queue)
        monkeypatch.setenv("PCR_BUCKET", world.bucket)
        result = retry(world, batch_id, "--dry-run", where=False)
        assert_clean_exit(result, 0)
        assert len(json.loads(result.stdout)["would_rerun"]) == 1


def test_bad_kinds_exit_2_and_an_unknown_batch_1() -> None:
    with MotoWorld() as world:
        batch_id = failed_batch(world, {3})
        for kind in ("bogus", "dependency-failed"):
            bad = retry(world, batch_id, "--kind", kind)
            assert_clean_exit(bad, 2)
            assert "pcr: error:" in bad.stderr
        missing = retry(world, "nope_00000000-0000-4000-8000-000000000000")
        assert_clean_exit(missing, 1)
        assert "no job definition" in missing.stderr
