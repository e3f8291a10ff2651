"""The stepping scheduler (what a MotoWorld runs, here without moto): each DescribeJobs ticks the
virtual clock and moves the jobs it names one step; timeouts and the grace period run on that
clock."""

from __future__ import annotations

from typing import Any

from pcr_sdk.local._capacity import Resources
from pcr_sdk.local._engine import BatchEngine
from tests.support.local import ScriptedPrograms, register, stepping_engine, submit_to


def statuses(engine: BatchEngine, *job_ids: str) -> list[str]:
    jobs: list[dict[str, Any]] = engine.describe_jobs({"jobs": list(job_ids)})["jobs"]
    by_id = {job["jobId"]: job["status"] for job in jobs}
    return [by_id[job_id] for job_id in job_ids]


def test_each_describe_moves_the_jobs_it_names_one_step_and_ticks_the_clock() -> None:
    programs = ScriptedPrograms(polls=5)
    engine, clock, _ = stepping_engine(programs)
    definition = register(engine)
    job, other = submit_to(engine, definition), submit_to(engine, definition)
    start = clock()
    seen = [statuses(engine, job)[0] for _ in range(6)]
    assert seen == ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED"]
    assert clock() == start + 6  # one second per DescribeJobs
    assert statuses(engine, other) == ["SUBMITTED"]  # described once now: it had not moved
    assert programs.admitted == [job, other]


def test_a_dependent_waits_pending_and_fails_with_its_dependency() -> None:
    engine, _, _ = stepping_engine(ScriptedPrograms({"bad": 3}))
    bad = submit_to(engine, register(engine, "bad"))
    after = submit_to(engine, register(engine), dependsOn=[{"jobId": bad}])
    for _ in range(5):
        statuses(engine, bad, after)
    assert statuses(engine, bad, after) == ["FAILED", "FAILED"]
    reason = engine.describe_jobs({"jobs": [after]})["jobs"][0]["statusReason"]
    assert reason.startswith("Dependent Job failed")


def test_a_timeout_sends_sigterm_then_sigkill_after_the_grace_period_on_the_virtual_clock() -> None:
    programs = ScriptedPrograms(runs_for=10_000, stops_on_term=False)
    engine, clock, _ = stepping_engine(programs)
    job = submit_to(engine, register(engine), timeout={"attemptDurationSeconds": 60})
    while statuses(engine, job) != ["RUNNING"]:
        pass
    clock.advance(60)
    statuses(engine, job)  # past the deadline: SIGTERM, which this container ignores
    assert programs.programs[job].terminated
    clock.advance(30)  # the grace period
    (done,) = engine.describe_jobs({"jobs": [job]})["jobs"]
    assert done["status"] == "FAILED"
    assert done["statusReason"] == "Job attempt duration exceeded timeout"


def test_a_job_larger_than_any_instance_stays_runnable_and_blocks_nothing() -> None:
    engine, _, _ = stepping_engine(ScriptedPrograms(), capacity=Resources(1, 512, 0))
    big = submit_to(engine, register(engine), containerOverrides={"vcpus": 8})
    small = submit_to(engine, register(engine))
    for _ in range(5):
        statuses(engine, big, small)
    assert statuses(engine, big, small) == ["RUNNABLE", "SUCCEEDED"]
    reason = engine.describe_jobs({"jobs": [big]})["jobs"][0]["statusReason"]
    assert reason.startswith("MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT")
