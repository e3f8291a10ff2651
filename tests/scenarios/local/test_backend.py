"""End to end through real boto3 clients: real subprocess workers, embedded S3, local Batch."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pcr_sdk._private.wire.layout import BatchLayout
from pcr_sdk.local import LocalBackend
from tests.support.local import (
    PLAIN_WORKER,
    SDK_WORKER,
    Kit,
    contract_environment,
    python,
    running,
    scripted,
)

pytestmark = pytest.mark.subprocess


@pytest.fixture(scope="module")
def local() -> Iterator[LocalBackend]:
    with LocalBackend(scripted("ok"), max_parallel=2, timeout_scale=1 / 60) as backend:
        yield backend


@pytest.fixture
def kit(local: LocalBackend) -> Kit:
    return Kit(local)


def _layout() -> BatchLayout:
    return BatchLayout(f"example_{uuid.uuid4()}")


@pytest.mark.parametrize(
    ("name", "worker"),
    [("plain", PLAIN_WORKER), ("sdk", SDK_WORKER)],
    ids=["plain-boto3", "pcr-worker"],
)
def test_worker_reads_input_and_writes_output_in_s3(
    local: LocalBackend, kit: Kit, name: str, worker: Path
) -> None:
    """(a) the original plain-boto3 worker runs unchanged; (b) so does one using pcr_sdk.worker."""
    layout = _layout()
    s3 = local.clients.s3
    s3.put_object(Bucket=local.bucket, Key=layout.config_key(0), Body=b'{"x": 2, "y": 3}')

    job = kit.wait_one(
        kit.submit(
            kit.definition(f"contract-{name}"),
            python(worker),
            environment=contract_environment(local, layout, 0),
        )
    )

    assert job["status"] == "SUCCEEDED", kit.log(job)
    assert job["container"]["exitCode"] == 0
    body = s3.get_object(Bucket=local.bucket, Key=layout.output_key(0))["Body"].read()
    assert json.loads(body) == {"x+y": 5, "x*y": 6}


def test_failure_reports_exit_code_and_log_tail(local: LocalBackend, kit: Kit) -> None:
    """(c) a non-zero exit fails the job with its exit code; the merged output is in Logs."""
    job = kit.wait_one(kit.submit(kit.definition("fails"), scripted("fail", "3")))

    assert job["status"] == "FAILED"
    assert job["statusReason"] == "Essential container in task exited"
    assert job["container"]["exitCode"] == 3
    assert [a["container"]["exitCode"] for a in job["attempts"]] == [3]
    stream = job["container"]["logStreamName"]
    assert stream.startswith("fails/default/")
    tail = local.clients.logs.get_log_events(
        logGroupName="/aws/batch/job", logStreamName=stream, limit=1
    )
    assert [e["message"] for e in tail["events"]] == ["boom: something broke"]
    assert kit.log(job) == ["about to fail", "boom: something broke"]
    with pytest.raises(ClientError) as err:
        local.clients.logs.get_log_events(logGroupName="/aws/batch/job", logStreamName="nope")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_attempt_timeout_kills_the_job(kit: Kit) -> None:
    """(d) attemptDurationSeconds=60 times timeout_scale 1/60: killed after about a second."""
    definition = kit.definition("sleeps", timeout={"attemptDurationSeconds": 60})
    started = time.monotonic()

    job = kit.wait_one(kit.submit(definition, scripted("sleep")))

    assert 0.9 < time.monotonic() - started < 10
    assert job["status"] == "FAILED"
    assert job["statusReason"] == "Job attempt duration exceeded timeout"
    assert "exitCode" not in job["container"]
    assert job["timeout"] == {"attemptDurationSeconds": 60}
    assert 950 <= job["stoppedAt"] - job["startedAt"] < 10_000
    assert kit.log(job)[0].startswith("sleeping pid ")


def test_dependent_starts_after_its_dependencies_stopped(kit: Kit) -> None:
    """(e) B depends on A (and C on both): each starts after what it waits for stopped."""
    definition = kit.definition("ordered")
    a = kit.submit(definition)
    b = kit.submit(definition, depends_on=[a])
    c = kit.submit(definition, depends_on=[a, b], dependency_type="SEQUENTIAL")

    jobs = kit.wait([a, b, c])

    assert {job["status"] for job in jobs.values()} == {"SUCCEEDED"}
    assert jobs[b]["startedAt"] >= jobs[a]["stoppedAt"]
    assert jobs[c]["startedAt"] >= jobs[b]["stoppedAt"]
    assert jobs[c]["dependsOn"] == [
        {"jobId": a, "type": "SEQUENTIAL"},
        {"jobId": b, "type": "SEQUENTIAL"},
    ]


def test_failed_dependency_fails_dependents_without_running_them(kit: Kit) -> None:
    """(f) A fails: B (on A) and C (on B) go FAILED with "Dependent Job failed", never run."""
    definition = kit.definition("cascade")
    a = kit.submit(definition, scripted("fail", "1"))
    b = kit.submit(definition, depends_on=[a])
    c = kit.submit(definition, depends_on=[b])

    jobs = kit.wait([a, b, c])

    assert jobs[a]["status"] == "FAILED"
    for dependent in (b, c):
        assert jobs[dependent]["status"] == "FAILED"
        assert jobs[dependent]["statusReason"] == "Dependent Job failed"
        assert jobs[dependent]["attempts"] == []
        assert "startedAt" not in jobs[dependent]
        assert "logStreamName" not in jobs[dependent]["container"]
    # submitted after its dependency already failed: fails just the same
    late = kit.wait_one(kit.submit(definition, depends_on=[a]))
    assert late["statusReason"] == "Dependent Job failed"


def test_retry_strategy_reruns_failed_attempts(kit: Kit) -> None:
    """(g) a flaky job succeeds on attempt 2; a broken one uses up all 3 attempts."""
    definition = kit.definition("retries", retryStrategy={"attempts": 2})
    flaky = kit.submit(definition, scripted("flaky"))
    broken = kit.submit(definition, scripted("fail", "4"), retryStrategy={"attempts": 3})

    jobs = kit.wait([flaky, broken])

    assert jobs[flaky]["status"] == "SUCCEEDED"
    assert [a["container"]["exitCode"] for a in jobs[flaky]["attempts"]] == [7, 0]
    streams = {a["container"]["logStreamName"] for a in jobs[flaky]["attempts"]}
    assert len(streams) == 2
    assert kit.log(jobs[flaky]) == ["attempt 2"]
    assert jobs[broken]["status"] == "FAILED"
    assert jobs[broken]["retryStrategy"] == {"attempts": 3}
    assert [a["container"]["exitCode"] for a in jobs[broken]["attempts"]] == [4, 4, 4]
    for attempt in jobs[broken]["attempts"]:
        assert attempt["statusReason"] == "Essential container in task exited"
        assert attempt["stoppedAt"] >= attempt["startedAt"]


def test_describe_and_list_shapes_and_paginators(local: LocalBackend, kit: Kit) -> None:
    """(h) DescribeJobs/ListJobs parse in botocore; ListJobs filters and its paginator work."""
    definition = kit.definition("listing", timeout={"attemptDurationSeconds": 600})
    blocker = kit.submit(definition, scripted("sleep"), name="pcr-blocker")
    waiting = [kit.submit(definition, name=f"pcr-list-{i}", depends_on=[blocker]) for i in range(5)]
    kit.wait(waiting, statuses={"PENDING"})
    kit.wait_one(blocker, statuses={"RUNNING"})

    running = local.clients.batch.list_jobs(jobQueue=local.queue)["jobSummaryList"]
    assert [job["jobId"] for job in running] == [blocker]  # no status given: RUNNING ones
    paginator = local.clients.batch.get_paginator("list_jobs")
    pages = list(
        paginator.paginate(
            jobQueue=local.queue,
            filters=[{"name": "JOB_NAME", "values": ["pcr-list-*"]}],
            PaginationConfig={"PageSize": 2},
        )
    )
    assert [len(page["jobSummaryList"]) for page in pages] == [2, 2, 1]
    summaries = [job for page in pages for job in page["jobSummaryList"]]
    assert [job["jobId"] for job in summaries] == waiting[::-1]  # with a filter: newest first
    assert all(job["status"] == "PENDING" for job in summaries)
    assert all(isinstance(job["createdAt"], int) for job in summaries)
    pending = local.clients.batch.list_jobs(jobQueue=local.queue, jobStatus="PENDING")
    assert {job["jobId"] for job in pending["jobSummaryList"]} >= set(waiting)
    exact = local.clients.batch.list_jobs(
        jobQueue=local.queue, filters=[{"name": "JOB_NAME", "values": ["pcr-list-3"]}]
    )["jobSummaryList"]
    assert [job["jobId"] for job in exact] == [waiting[3]]

    described = local.clients.batch.describe_jobs(jobs=[blocker, "no-such-job", waiting[0]])
    assert [job["jobId"] for job in described["jobs"]] == [blocker, waiting[0]]
    detail = described["jobs"][0]
    assert detail["status"] == "RUNNING"
    assert detail["jobQueue"] == local.queue_arn
    assert detail["jobDefinition"] == definition
    assert isinstance(detail["createdAt"], int)
    assert isinstance(detail["startedAt"], int)
    assert detail["container"]["logStreamName"].startswith("listing/default/")
    assert detail["container"]["command"] == scripted("sleep")
    assert detail["attempts"] == []
    assert described["jobs"][1]["dependsOn"] == [{"jobId": blocker, "type": "SEQUENTIAL"}]

    local.clients.batch.terminate_job(jobId=blocker, reason="done listing")
    jobs = kit.wait([blocker, *waiting])
    assert {jobs[job_id]["statusReason"] for job_id in waiting} == {"Dependent Job failed"}


def test_cancel_and_terminate(kit: Kit) -> None:
    """(i) CancelJob stops queued jobs only (a PENDING one once its dependency is done);
    TerminateJob also stops a running one: SIGTERM, which the sleeping worker dies of."""
    definition = kit.definition("stoppable")
    sleeper = kit.submit(definition, scripted("sleep"))
    queued = kit.submit(definition, depends_on=[sleeper])
    kit.wait_for_log(sleeper)
    kit.wait_one(queued, statuses={"PENDING"})

    kit.batch.cancel_job(jobId=queued, reason="not needed")
    kit.batch.cancel_job(jobId=sleeper, reason="too late to cancel")
    assert kit.describe(queued)["status"] == "PENDING"  # until its dependency is done
    assert kit.describe(sleeper)["status"] == "RUNNING"

    kit.batch.terminate_job(jobId=sleeper, reason="stop it")
    terminated = kit.wait_one(sleeper)
    assert terminated["status"] == "FAILED"
    assert terminated["statusReason"] == "stop it"
    assert terminated.get("isTerminated") is True
    assert terminated.get("isCancelled") is False
    assert terminated["container"]["exitCode"] == 143  # SIGTERM, as a container reports it
    assert len(terminated["attempts"]) == 1
    cancelled = kit.wait_one(queued)
    assert cancelled["status"] == "FAILED"
    assert cancelled["statusReason"] == "not needed"
    assert cancelled.get("isCancelled") is True
    assert cancelled["attempts"] == []
    with pytest.raises(ClientError, match="not found"):
        kit.batch.cancel_job(jobId="no-such-job", reason="x")


def test_requests_aws_rejects_are_rejected(local: LocalBackend, kit: Kit) -> None:
    definition = kit.definition("rejects")
    batch = local.clients.batch
    cases: dict[str, dict[str, Any]] = {
        "queue": {"jobQueue": "elsewhere"},
        "definition": {"jobDefinition": "no-such-definition"},
        "array": {"arrayProperties": {"size": 1}},
        "depends": {"dependsOn": [{"jobId": "x"}] * 21},
        "unknown-dependency": {"dependsOn": [{"jobId": "no-such-job"}]},
        "timeout": {"timeout": {"attemptDurationSeconds": 59}},
        "retries": {"retryStrategy": {"attempts": 11}},
        "reserved-env": {
            "containerOverrides": {"environment": [{"name": "AWS_BATCH_X", "value": "1"}]}
        },
        "name": {"jobName": "-starts-with-dash"},
    }
    for case, change in cases.items():
        arguments: dict[str, Any] = {
            "jobName": "rejected",
            "jobQueue": local.queue,
            "jobDefinition": definition,
        }
        arguments.update(change)
        with pytest.raises(ClientError) as err:
            batch.submit_job(**arguments)
        assert err.value.response["Error"]["Code"] == "ClientException", case
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400, case
    with pytest.raises(ClientError, match="Maximum number of jobs supported is 100"):
        batch.describe_jobs(jobs=[str(i) for i in range(101)])


def test_job_definition_revisions(local: LocalBackend, kit: Kit) -> None:
    first = kit.definition("revised")
    second = kit.definition("revised")
    assert first.endswith(":1")
    assert second.endswith(":2")
    batch = local.clients.batch
    batch.deregister_job_definition(jobDefinition=first)

    described = batch.describe_job_definitions(jobDefinitionName="revised")["jobDefinitions"]
    assert [(d["revision"], d["status"]) for d in described] == [(1, "INACTIVE"), (2, "ACTIVE")]
    active = batch.describe_job_definitions(jobDefinitions=["revised"], status="ACTIVE")
    assert [d["jobDefinitionArn"] for d in active["jobDefinitions"]] == [second]
    with pytest.raises(ClientError, match="revised:1 not found"):
        batch.submit_job(jobName="old", jobQueue=local.queue, jobDefinition="revised:1")
    job = batch.submit_job(jobName="latest", jobQueue=local.queue, jobDefinition="revised")
    assert kit.wait_one(job["jobId"])["jobDefinition"] == second
    pages = batch.get_paginator("describe_job_definitions").paginate(
        PaginationConfig={"PageSize": 1}
    )
    names = [d["jobDefinitionName"] for page in pages for d in page["jobDefinitions"]]
    assert names.count("revised") == 2
    batch.tag_resource(resourceArn=second, tags={"team": "pcr"})
    assert batch.list_tags_for_resource(resourceArn=second)["tags"] == {"team": "pcr"}
    queues = batch.describe_job_queues()["jobQueues"]
    assert [q["jobQueueArn"] for q in queues] == [local.queue_arn]


def test_max_parallel_queues_jobs_as_runnable() -> None:
    with LocalBackend(scripted("ok"), max_parallel=1) as local:
        kit = Kit(local)
        definition = kit.definition("one-at-a-time")
        sleeper = kit.submit(definition, scripted("sleep"))
        kit.wait_one(sleeper, statuses={"RUNNING"})
        queued = [kit.submit(definition) for _ in range(2)]
        kit.wait(queued, statuses={"RUNNABLE"})

        kit.batch.terminate_job(jobId=sleeper, reason="make room")
        jobs = kit.wait([sleeper, *queued])

        assert [jobs[job_id]["status"] for job_id in queued] == ["SUCCEEDED", "SUCCEEDED"]
        assert jobs[queued[0]]["startedAt"] >= jobs[sleeper]["stoppedAt"]
        assert jobs[queued[1]]["startedAt"] >= jobs[queued[0]]["stoppedAt"]


def test_job_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real AWS settings of this process never reach a job; the local wiring does."""
    monkeypatch.setenv("AWS_PROFILE", "does-not-exist")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "real-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "real-token")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://example.invalid")
    with LocalBackend(
        scripted("env"), region="eu-west-1", bucket="env", queue="q1", extra_env={"EXTRA": "yes"}
    ) as local:
        kit = Kit(local)
        definition = kit.definition(
            "environment",
            containerProperties={
                "environment": [{"name": "FROM_DEF", "value": "d"}, {"name": "BOTH", "value": "d"}]
            },
        )
        job = kit.wait_one(kit.submit(definition, environment={"BOTH": "override"}))
        env = json.loads(kit.log(job)[0])
        keys = local.credentials

    assert job["status"] == "SUCCEEDED"
    assert env["FROM_DEF"] == "d"
    assert env["BOTH"] == "override"
    assert env["AWS_BATCH_JOB_ID"] == job["jobId"]
    assert env["AWS_BATCH_JOB_ATTEMPT"] == "1"
    assert env["AWS_BATCH_JQ_NAME"] == "q1"
    assert env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert env["AWS_ACCESS_KEY_ID"] == keys.access_key_id
    assert env["AWS_SECRET_ACCESS_KEY"] == keys.secret_access_key
    assert env["AWS_SECRET_ACCESS_KEY"] != "real-secret"
    assert env["AWS_DEFAULT_REGION"] == env["AWS_REGION"] == "eu-west-1"
    assert env["AWS_CONFIG_FILE"] == env["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull
    assert env["EXTRA"] == "yes"
    assert env["PATH"] == os.environ["PATH"]
    assert "AWS_PROFILE" not in env
    assert "AWS_SESSION_TOKEN" not in env
    assert "AWS_BATCH_JOB_ARRAY_INDEX" not in env


def test_exit_kills_running_jobs_and_stops_everything() -> None:
    with LocalBackend(scripted("sleep")) as local:
        kit = Kit(local)
        job_id = kit.submit(kit.definition("orphan"))
        pid = int(kit.wait_for_log(job_id)[0].rsplit(" ", 1)[1])
        leaving = time.monotonic()
    assert time.monotonic() - leaving < 5
    assert not running(pid)
    with pytest.raises(RuntimeError, match="not running"):
        _ = local.clients


def test_a_job_without_a_command_fails_to_start() -> None:
    with LocalBackend() as local:
        kit = Kit(local)
        job = kit.wait_one(kit.submit(kit.definition("no-command")))
        assert job["status"] == "FAILED"
        assert job["statusReason"] == "Task failed to start"
        assert job["container"]["reason"].startswith("CannotStartContainerError: no command to run")
