"""Scripted job states, failures, logs and the simulated worker, seen through raw boto3 calls."""

from __future__ import annotations

from typing import Any

import pytest

from pcr_sdk._private.wire.layout import BatchLayout
from pcr_sdk.testing import (
    DEPENDENCY_FAILED,
    ESSENTIAL_CONTAINER_EXITED,
    LOG_GROUP,
    JobScript,
    JobView,
    MotoWorld,
)
from tests.support.jobs import Jobs

pytestmark = pytest.mark.integration


def log_messages(world: MotoWorld, stream: str) -> list[str]:
    events = world.clients.logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=stream)
    return [event["message"] for event in events["events"]]


def test_default_job_finishes_on_first_describe(jobs: Jobs) -> None:
    job_id = jobs.submit(0, {"x": 1})
    batch = jobs.world.clients.batch
    summary = batch.list_jobs(jobQueue=jobs.world.queue, jobStatus="SUBMITTED")["jobSummaryList"]
    assert [s["jobId"] for s in summary] == [job_id]  # nothing moves until described

    (job,) = jobs.describe(job_id)
    assert job["status"] == "SUCCEEDED"
    assert job["container"]["exitCode"] == 0
    assert job["statusReason"] == ESSENTIAL_CONTAINER_EXITED
    assert job["attempts"][0]["container"]["exitCode"] == 0


def test_statuses_advance_one_step_per_describe() -> None:
    with MotoWorld(polls_to_finish=6) as world:
        jobs = Jobs(world, world.register_job_definition(), BatchLayout("demo_batch"))
        job_id = jobs.submit(0, {})
        seen = [jobs.status(job_id) for _ in range(8)]
    assert seen == [
        "SUBMITTED",
        "PENDING",
        "RUNNABLE",
        "STARTING",
        "RUNNING",
        "RUNNING",
        "SUCCEEDED",
        "SUCCEEDED",
    ]


def test_only_describes_that_include_a_job_move_it(jobs: Jobs) -> None:
    jobs.world.script.polls_to_finish = 2
    first, second = jobs.submit(0, {}), jobs.submit(1, {})
    assert jobs.status(first) == "SUBMITTED"
    assert jobs.status(first) == "PENDING"
    assert jobs.status(first) == "SUCCEEDED"
    assert jobs.status(second) == "SUBMITTED"


def test_polls_override_for_one_job(jobs: Jobs) -> None:
    jobs.world.script.polls_to_finish = 1
    jobs.world.script.polls(index=1, n=3)
    first, second = jobs.submit(0, {}), jobs.submit(1, {})
    rounds = [[job["status"] for job in jobs.describe(first, second)] for _ in range(4)]
    assert rounds == [
        ["SUBMITTED", "SUBMITTED"],
        ["SUCCEEDED", "PENDING"],
        ["SUCCEEDED", "RUNNABLE"],
        ["SUCCEEDED", "SUCCEEDED"],
    ]


def test_running_job_reports_start_and_log_stream() -> None:
    with MotoWorld(polls_to_finish=5) as world:
        jobs = Jobs(world, world.register_job_definition(), BatchLayout("demo_batch"))
        job_id = jobs.submit(0, {})
        for _ in range(4):
            jobs.describe(job_id)
        (job,) = jobs.describe(job_id)
    assert job["status"] == "RUNNING"
    assert job["startedAt"] > 0
    # AWS names it <job definition>/default/<ECS task id>
    assert job["container"]["logStreamName"].startswith("pcr-test-job/default/")
    assert "stoppedAt" not in job


def test_scripted_failure_has_exit_code_reason_attempt_and_logs(jobs: Jobs) -> None:
    jobs.world.script.fail(
        index=1,
        exit_code=3,
        reason="Essential container in task exited",
        log_lines=["Traceback (most recent call last):", "ValueError: boom"],
    )
    ok, bad = jobs.submit(0, {}), jobs.submit(1, {})
    by_id = {job["jobId"]: job for job in jobs.describe(ok, bad)}

    assert by_id[ok]["status"] == "SUCCEEDED"
    failed = by_id[bad]
    assert failed["status"] == "FAILED"
    assert failed["statusReason"] == "Essential container in task exited"
    assert failed["container"]["exitCode"] == 3
    assert [a["container"]["exitCode"] for a in failed["attempts"]] == [3]
    assert failed["stoppedAt"] >= failed["startedAt"]
    stream = failed["container"]["logStreamName"]
    assert log_messages(jobs.world, stream) == [
        "Traceback (most recent call last):",
        "ValueError: boom",
    ]


def test_infrastructure_failure_has_no_exit_code(jobs: Jobs) -> None:
    reason = "CannotPullContainerError: pull image manifest has been retried 5 time(s)"
    jobs.world.script.fail(index=0, exit_code=None, reason=reason)
    (job,) = jobs.describe(jobs.submit(0, {}))
    assert job["status"] == "FAILED"
    assert job["statusReason"] == reason
    assert "exitCode" not in job["container"]
    assert job["container"]["reason"] == reason
    assert "exitCode" not in job["attempts"][0]["container"]
    listed = jobs.world.clients.batch.list_jobs(jobQueue=jobs.world.queue, jobStatus="FAILED")
    assert [summary["jobId"] for summary in listed["jobSummaryList"]] == [job["jobId"]]
    assert listed["jobSummaryList"][0]["container"]["reason"] == reason


def test_fail_where_sees_the_job_as_submitted(jobs: Jobs) -> None:
    views: list[JobView] = []

    def second_job(view: JobView) -> bool:
        views.append(view)
        return view.order == 1

    jobs.world.script.fail_where(second_job, exit_code=2)
    ids = [jobs.submit(i, {}, name=f"job-{i}") for i in range(3)]
    statuses = [job["status"] for job in jobs.describe(*ids)]

    assert statuses == ["SUCCEEDED", "FAILED", "SUCCEEDED"]
    view = next(v for v in views if v.order == 1)
    assert view.job_id == ids[1]
    assert view.job_name == "job-1"
    assert view.index == 1
    assert view.environment == jobs.layout.environment(bucket=jobs.world.bucket, index=1)
    assert jobs.world.jobs()[1] == view


def test_fail_by_job_name_and_latest_rule_wins(jobs: Jobs) -> None:
    jobs.world.script.fail(job_name="flaky", exit_code=4)
    jobs.world.script.fail(job_name="flaky", exit_code=5)
    (job,) = jobs.describe(jobs.submit(7, {}, name="flaky"))
    assert job["container"]["exitCode"] == 5


def test_rules_added_after_submission_still_apply(jobs: Jobs) -> None:
    job_id = jobs.submit(0, {})
    jobs.world.script.fail(job_id=job_id, exit_code=9)
    assert jobs.describe(job_id)[0]["container"]["exitCode"] == 9


def test_worker_writes_the_output(jobs: Jobs) -> None:
    @jobs.world.script.worker
    def add(data: Any) -> object:
        return {"x+y": data["x"] + data["y"], "x*y": data["x"] * data["y"]}

    job_id = jobs.submit(0, {"x": 2, "y": 3})
    assert jobs.status(job_id) == "SUCCEEDED"
    assert jobs.output(0) == {"x+y": 5, "x*y": 6}


def test_worker_runs_only_when_the_job_finishes() -> None:
    with MotoWorld(polls_to_finish=1) as world:
        jobs = Jobs(world, world.register_job_definition(), BatchLayout("demo_batch"))
        world.script.worker(lambda data: data)
        job_id = jobs.submit(0, {"a": 1})
        jobs.describe(job_id)
        listed = world.clients.s3.list_objects_v2(Bucket=world.bucket)["Contents"]
        assert [o["Key"] for o in listed] == [jobs.layout.config_key(0)]
        jobs.describe(job_id)
        assert jobs.output(0) == {"a": 1}


def test_worker_is_skipped_for_scripted_failures(jobs: Jobs) -> None:
    jobs.world.script.worker(lambda data: data)
    jobs.world.script.fail(index=0)
    jobs.describe(jobs.submit(0, {}))
    listed = jobs.world.clients.s3.list_objects_v2(Bucket=jobs.world.bucket)["Contents"]
    assert [o["Key"] for o in listed] == [jobs.layout.config_key(0)]


def test_raising_worker_fails_the_job_with_its_exception_as_log(jobs: Jobs) -> None:
    def explode(data: Any) -> object:
        raise ValueError(f"boom {data['x']}")

    jobs.world.script.worker(explode)
    (job,) = jobs.describe(jobs.submit(0, {"x": 1}))
    assert job["status"] == "FAILED"
    assert job["container"]["exitCode"] == 1
    assert job["statusReason"] == ESSENTIAL_CONTAINER_EXITED
    assert log_messages(jobs.world, job["container"]["logStreamName"]) == ["ValueError: boom 1"]


def test_worker_without_config_fails_like_a_container_would(jobs: Jobs) -> None:
    jobs.world.script.worker(lambda data: data)
    (job,) = jobs.describe(jobs.submit(0, None))
    assert job["status"] == "FAILED"
    (line,) = log_messages(jobs.world, job["container"]["logStreamName"])
    assert "NoSuchKey" in line


def test_no_worker_means_no_output(jobs: Jobs) -> None:
    jobs.describe(jobs.submit(0, {}))
    listed = jobs.world.clients.s3.list_objects_v2(Bucket=jobs.world.bucket)["Contents"]
    assert [o["Key"] for o in listed] == [jobs.layout.config_key(0)]


def test_described_environment_does_not_grow(jobs: Jobs) -> None:
    job_id = jobs.submit(0, {})
    sizes = [len(jobs.describe(job_id)[0]["container"]["environment"]) for _ in range(3)]
    assert sizes == [sizes[0]] * 3
    names = {e["name"] for e in jobs.describe(job_id)[0]["container"]["environment"]}
    assert names == set(jobs.layout.environment(bucket=jobs.world.bucket, index=0))


def test_terminate_fails_a_running_job() -> None:
    with MotoWorld(polls_to_finish=10) as world:
        jobs = Jobs(world, world.register_job_definition(), BatchLayout("demo_batch"))
        job_id = jobs.submit(0, {})
        for _ in range(5):
            jobs.describe(job_id)
        world.clients.batch.terminate_job(jobId=job_id, reason="stopped by test")
        (job,) = jobs.describe(job_id)
    assert job["status"] == "FAILED"
    assert job["statusReason"] == "stopped by test"
    assert job["isTerminated"] is True
    # AWS stops the container with SIGTERM: it exits 143, the attempt carries the reason
    (attempt,) = job["attempts"]
    assert attempt["container"]["exitCode"] == job["container"]["exitCode"] == 143
    assert attempt["statusReason"] == "stopped by test"


def test_cancel_stops_only_jobs_not_yet_starting() -> None:
    with MotoWorld(polls_to_finish=10) as world:
        jobs = Jobs(world, world.register_job_definition(), BatchLayout("demo_batch"))
        waiting, running = jobs.submit(0, {}), jobs.submit(1, {})
        for _ in range(5):
            jobs.describe(running)
        for job_id in (waiting, running):
            world.clients.batch.cancel_job(jobId=job_id, reason="cancelled by test")
        cancelled, untouched = jobs.describe(waiting, running)
    assert cancelled["status"] == "FAILED"
    assert cancelled["statusReason"] == "cancelled by test"
    assert cancelled["attempts"] == []
    assert untouched["status"] == "RUNNING"


def test_terminating_a_finished_job_changes_nothing(jobs: Jobs) -> None:
    job_id = jobs.submit(0, {})
    jobs.describe(job_id)
    jobs.world.clients.batch.terminate_job(jobId=job_id, reason="too late")
    assert jobs.status(job_id) == "SUCCEEDED"


def test_dependent_job_waits_pending_then_runs(jobs: Jobs) -> None:
    jobs.world.script.polls(index=0, n=2)
    first = jobs.submit(0, {})
    second = jobs.submit(1, {}, depends_on=[first])
    rounds = [[job["status"] for job in jobs.describe(first, second)] for _ in range(3)]
    assert rounds == [
        ["SUBMITTED", "PENDING"],
        ["PENDING", "PENDING"],
        ["SUCCEEDED", "SUCCEEDED"],
    ]


def test_dependent_job_fails_when_its_dependency_fails(jobs: Jobs) -> None:
    jobs.world.script.fail(index=0)
    first = jobs.submit(0, {})
    second = jobs.submit(1, {}, depends_on=[first])
    dependent = jobs.describe(first, second)[1]
    assert dependent["status"] == "FAILED"
    assert dependent["statusReason"] == DEPENDENCY_FAILED
    assert "exitCode" not in dependent["container"]


def test_array_job_finishes_with_its_children(jobs: Jobs) -> None:
    response = jobs.world.clients.batch.submit_job(
        jobName="array",
        jobQueue=jobs.world.queue,
        jobDefinition=jobs.definition,
        arrayProperties={"size": 3},
    )
    (parent,) = jobs.describe(response["jobId"])
    assert parent["status"] == "SUCCEEDED"
    assert parent["arrayProperties"]["statusSummary"]["SUCCEEDED"] == 3


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.fail(), "at least one"),
        (lambda s: s.fail(index=0, exit_code=0), "non-zero"),
        (lambda s: s.fail(index=0, reason=""), "reason"),
        (lambda s: s.polls(index=0, n=-1), ">= 0"),
    ],
)
def test_script_rejects_bad_rules(call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(JobScript())


def test_script_rejects_a_string_as_log_lines() -> None:
    with pytest.raises(TypeError, match="sequence of lines"):
        JobScript().fail(index=0, log_lines="one line")


def test_negative_polls_to_finish_is_rejected() -> None:
    with pytest.raises(ValueError, match="polls_to_finish"):
        MotoWorld(polls_to_finish=-1)


def test_reset_drops_rules_and_worker(jobs: Jobs) -> None:
    jobs.world.script.fail(index=0)
    jobs.world.script.worker(lambda data: data)
    jobs.world.script.reset()
    assert jobs.world.script.handler is None
    assert jobs.status(jobs.submit(0, {})) == "SUCCEEDED"
