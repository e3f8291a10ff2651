"""The AWS commands against a mocked account (`MotoWorld`): submit, status, outputs, wait,
logs, cancel, the scoped maintenance commands, environment variables and help texts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.main import get_command

from pcr_sdk import JobSubmitter, SilentProgress
from pcr_sdk.advanced import Seams
from pcr_sdk.cli._app import app
from pcr_sdk.cli._runtime import Runtime
from pcr_sdk.testing import MotoWorld
from tests.support.cli import assert_clean_exit, invoke, lines, worker_command, write_jobs

pytestmark = pytest.mark.subprocess

SUM_PRODUCT = ['{"x": 2, "y": 3}', '{"x": 10, "y": 4}', '{"x": -1, "y": 7}']
EXPECTED = ['{"x+y":5,"x*y":6}', '{"x+y":14,"x*y":40}', '{"x+y":6,"x*y":-7}']


def _where(world: MotoWorld) -> list[str]:
    return ["--queue", world.queue, "--bucket", world.bucket]


def _submit(world: MotoWorld, aws: Runtime, tmp_path: Path, *extra: str) -> str:
    jobs = write_jobs(tmp_path / "jobs.jsonl", SUM_PRODUCT)
    result = invoke(["submit", str(jobs), *_where(world), "--image", "img:1", *extra], obj=aws)
    assert_clean_exit(result, 0)
    (batch_id,) = lines(result.stdout)
    assert result.stderr.count("submitted 3 job(s) in ") == 1  # said once, by the progress
    assert f"follow them with: pcr wait {batch_id}" in result.stderr
    return batch_id


def _definition_status(world: MotoWorld, name: str) -> list[str]:
    found = world.clients.batch.describe_job_definitions(jobDefinitionName=name)
    return [d["status"] for d in found["jobDefinitions"]]


def _submitter(world: MotoWorld, name: str) -> JobSubmitter:
    return JobSubmitter(
        name,
        world.queue,
        "img:1",
        world.bucket,
        clients=world.clients,
        progress=SilentProgress(),
        seams=Seams(sleep=lambda seconds: None),
        gpus=0,
        vcpus=1,
    )


def test_submit_then_status_outputs_and_wait(
    moto_world: MotoWorld, aws: Runtime, tmp_path: Path
) -> None:
    batch_id = _submit(moto_world, aws, tmp_path, "--name", "cli-test", "--memory", "512")
    assert batch_id.startswith("cli-test_")
    assert _definition_status(moto_world, batch_id) == ["ACTIVE"]  # the jobs still need it
    assert [c.job_name for c in moto_world.submitted()] == [batch_id] * 3

    status = invoke(["status", batch_id, *_where(moto_world)], obj=aws)
    assert_clean_exit(status, 0)
    assert json.loads(status.stdout) == {
        "batch_id": batch_id,
        "jobs": 3,
        "counts": {"SUCCEEDED": 3},
        "outputs": 3,
    }
    assert "SUCCEEDED" in status.stderr

    outputs = invoke(["outputs", batch_id, *_where(moto_world)], obj=aws)
    assert_clean_exit(outputs, 0)
    assert lines(outputs.stdout) == EXPECTED

    waited = invoke(["wait", batch_id, *_where(moto_world)], obj=aws)
    assert_clean_exit(waited, 0)
    assert lines(waited.stdout) == EXPECTED
    assert "summary" in waited.stderr
    assert _definition_status(moto_world, batch_id) == ["INACTIVE"]  # wait cleaned up


def test_submit_wait_with_a_failed_job(moto_world: MotoWorld, aws: Runtime, tmp_path: Path) -> None:
    moto_world.script.fail(index=1, exit_code=3, log_lines=["loading", "ValueError: boom"])
    jobs = write_jobs(tmp_path / "jobs.jsonl", SUM_PRODUCT)
    result = invoke(["submit", str(jobs), *_where(moto_world), "--image", "i", "--wait"], obj=aws)
    assert_clean_exit(result, 1)
    assert lines(result.stdout) == [EXPECTED[0], "null", EXPECTED[2]]
    assert "ValueError: boom" in result.stderr  # the failed job's log tail
    call = moto_world.submitted()[0]
    assert _definition_status(moto_world, call.job_definition.split("/")[-1].split(":")[0]) == [
        "INACTIVE"
    ]


def test_run_on_aws_is_submit_wait(moto_world: MotoWorld, aws: Runtime, tmp_path: Path) -> None:
    jobs = write_jobs(tmp_path / "jobs.jsonl", SUM_PRODUCT)
    result = invoke(
        ["run", str(jobs), *_where(moto_world), "--image", "i", "--vcpus", "2"], obj=aws
    )
    assert_clean_exit(result, 0)
    assert lines(result.stdout) == EXPECTED


def test_logs_prints_the_tail(moto_world: MotoWorld, aws: Runtime) -> None:
    moto_world.script.fail(index=0, exit_code=1, log_lines=["one", "two", "three"])
    with _submitter(moto_world, "logs") as submitter:
        job_id = submitter.submit_job({"x": 1, "y": 1})
        submitter.wait_until_jobs_finished()
    result = invoke(["logs", job_id, "--tail", "2"], obj=aws)
    assert_clean_exit(result, 0)
    assert lines(result.stdout) == ["two", "three"]


def test_logs_show_terminal_escapes_instead_of_obeying_them(
    moto_world: MotoWorld, aws: Runtime
) -> None:
    hostile = [
        "\x1b]0;pwned\x07\x1b[2J cleared",  # window title, clear screen
        "tab\tkept \x1b[31mred\x9b\u202eevil",  # C1 CSI, a bidirectional override
    ]
    moto_world.script.fail(index=0, exit_code=1, log_lines=hostile)
    with _submitter(moto_world, "escapes") as submitter:
        job_id = submitter.submit_job({"x": 1, "y": 1})
        submitter.wait_until_jobs_finished()
    result = invoke(["logs", job_id], obj=aws)
    assert_clean_exit(result, 0)
    assert lines(result.stdout) == [
        "\\x1b]0;pwned\\x07\\x1b[2J cleared",
        "tab\tkept \\x1b[31mred\\x9b\\u202eevil",
    ]
    assert "\x1b" not in result.stdout + result.stderr


def test_logs_of_an_unknown_job(aws: Runtime) -> None:
    result = invoke(["logs", "no-such-job"], obj=aws)
    assert_clean_exit(result, 1)
    assert "no job no-such-job" in result.stderr


@pytest.mark.moto_world(polls_to_finish=10)  # its jobs stay unfinished
def test_logs_of_a_job_not_started(moto_world: MotoWorld, slow_aws: Runtime) -> None:
    job_id = _submitter(moto_world, "early").submit_job({"x": 1, "y": 1})
    result = invoke(["logs", job_id], obj=slow_aws)
    assert_clean_exit(result, 1)
    assert "has no log stream" in result.stderr


def test_status_errors_are_one_line(aws: Runtime, moto_world: MotoWorld) -> None:
    bad = invoke(["status", "not-a-batch-id", "--queue", moto_world.queue], obj=aws)
    assert_clean_exit(bad, 2)
    assert "is not a batch id" in bad.stderr
    unknown_id = "ghost_6f1c1bd6-4d2c-4f0c-9d7e-1d0b7f2c7a11"
    unknown = invoke(["status", unknown_id, "--queue", moto_world.queue], obj=aws)
    assert_clean_exit(unknown, 1)
    assert f"no jobs of batch {unknown_id}" in unknown.stderr
    assert len(lines(unknown.stderr)) == 1


@pytest.mark.moto_world(polls_to_finish=10)  # its jobs stay unfinished
def test_cancel_terminates_unfinished_jobs(moto_world: MotoWorld, slow_aws: Runtime) -> None:
    submitter = _submitter(moto_world, "to-cancel")
    ids = [submitter.submit_job({"x": i, "y": 1}) for i in range(3)]
    batch_id = submitter.get_batch_id()
    result = invoke(
        ["cancel", batch_id, "--queue", moto_world.queue, "--reason", "test says stop"],
        obj=slow_aws,
    )
    assert_clean_exit(result, 0)
    report = json.loads(result.stdout)
    assert report == {
        "batch_id": batch_id,
        "jobs": 3,
        "terminated": 3,
        "counts": {"FAILED": 3},
    }
    details = moto_world.clients.batch.describe_jobs(jobs=ids)["jobs"]
    assert {d["statusReason"] for d in details} == {"test says stop"}
    assert _definition_status(moto_world, batch_id) == ["INACTIVE"]


@pytest.mark.moto_world(polls_to_finish=10)  # its jobs stay unfinished
def test_cleanup_touches_only_pcr_definitions(moto_world: MotoWorld, slow_aws: Runtime) -> None:
    foreign = moto_world.register_job_definition("not-ours")
    leftover = _submitter(moto_world, "leftover")  # registered, never closed: an orphan
    busy = _submitter(moto_world, "busy")
    busy.submit_job({"x": 1, "y": 1})  # unfinished: its definition is still in use

    listed = invoke(["cleanup", "--dry-run"], obj=slow_aws)
    assert_clean_exit(listed, 0)
    assert leftover.get_batch_id() in listed.stderr
    assert busy.get_batch_id() in listed.stderr
    assert "not-ours" not in listed.stderr
    assert listed.stdout == ""

    declined = invoke(["cleanup"], obj=slow_aws, input="n\n")
    assert_clean_exit(declined, 1)
    assert "Deregister 1 job definition(s)?" in declined.stderr
    assert _definition_status(moto_world, leftover.get_batch_id()) == ["ACTIVE"]

    confirmed = invoke(["cleanup"], obj=slow_aws, input="y\n")
    assert_clean_exit(confirmed, 0)
    assert lines(confirmed.stdout) == [leftover._registry.arn]
    assert _definition_status(moto_world, leftover.get_batch_id()) == ["INACTIVE"]
    assert _definition_status(moto_world, busy.get_batch_id()) == ["ACTIVE"]

    forced = invoke(["cleanup", "--yes", "--include-in-use"], obj=slow_aws)
    assert_clean_exit(forced, 0)
    assert lines(forced.stdout) == [busy._registry.arn]
    assert _definition_status(moto_world, busy.get_batch_id()) == ["INACTIVE"]
    assert _definition_status(moto_world, "not-ours") == ["ACTIVE"]
    assert foreign.endswith("not-ours:1")

    nothing = invoke(["cleanup", "--yes"], obj=slow_aws)
    assert_clean_exit(nothing, 0)
    assert "nothing to do" in nothing.stderr


def _runnable(world: MotoWorld, job_ids: list[str]) -> None:
    for _ in range(3):  # SUBMITTED -> PENDING -> RUNNABLE: the harness moves a step per describe
        world.clients.batch.describe_jobs(jobs=job_ids)


def _failed_ids(world: MotoWorld) -> list[str]:
    found = world.clients.batch.list_jobs(jobQueue=world.queue, jobStatus="FAILED")
    return sorted(s["jobId"] for s in found["jobSummaryList"])


@pytest.mark.moto_world(polls_to_finish=10)  # its jobs stay unfinished
def test_stop_runnable_touches_only_pcr_jobs(moto_world: MotoWorld, slow_aws: Runtime) -> None:
    batch = moto_world.clients.batch
    ours = _submitter(moto_world, "stuck")
    first = [ours.submit_job({"x": i, "y": 1}) for i in range(2)]
    definition = moto_world.register_job_definition("foreign")
    foreign = batch.submit_job(
        jobName="foreign", jobQueue=moto_world.queue, jobDefinition=definition
    )
    _runnable(moto_world, [*first, foreign["jobId"]])

    declined = invoke(["stop-runnable", moto_world.queue], obj=slow_aws, input="n\n")
    assert_clean_exit(declined, 1)
    assert all(job_id in declined.stderr for job_id in first)
    assert foreign["jobId"] not in declined.stderr
    assert "leaving alone 1 RUNNABLE job(s) not submitted by pcr-sdk" in declined.stderr
    assert "Terminate 2 RUNNABLE job(s) in pcr-test-queue? [y/N]" in declined.stderr
    assert declined.stdout == ""
    assert _failed_ids(moto_world) == []

    second = [ours.submit_job({"x": i, "y": 2}) for i in range(2)]
    _runnable(moto_world, second)  # (the harness moved the first ones on to STARTING)
    stopped = invoke(["stop-runnable", moto_world.queue, "--yes"], obj=slow_aws)
    assert_clean_exit(stopped, 0)
    assert sorted(lines(stopped.stdout)) == sorted(second)
    # stop-runnable's own DescribeJobs moved them on to STARTING; as on AWS, a job terminated
    # while STARTING fails once its attempt is stopped: the next step
    batch.describe_jobs(jobs=second)
    assert _failed_ids(moto_world) == sorted(second)


@pytest.mark.moto_world(polls_to_finish=10)  # its jobs stay unfinished
def test_a_question_without_an_answer_changes_nothing(
    moto_world: MotoWorld, slow_aws: Runtime
) -> None:
    orphan = _submitter(moto_world, "orphan")
    result = invoke(["cleanup"], obj=slow_aws, input="")
    assert_clean_exit(result, 1)
    assert "no answer on stdin; pass --yes" in result.stderr
    assert _definition_status(moto_world, orphan.get_batch_id()) == ["ACTIVE"]


COMMANDS = [
    "demo", "run", "submit", "status", "wait", "outputs", "logs", "cancel", "report", "cleanup",
    "stop-runnable",
]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = invoke([command, "--help"])
    assert result.exit_code == 0
    assert "Usage: pcr " + command in result.stdout


def test_version() -> None:
    result = invoke(["--version"])
    assert result.exit_code == 0
    assert result.stdout.startswith("pcr-sdk ")


def test_default_clients_are_built_inside_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    batch_id = "b_6f1c1bd6-4d2c-4f0c-9d7e-1d0b7f2c7a11"
    result = invoke(["status", batch_id, "--queue", "q"])  # no region: fails before any request
    assert_clean_exit(result, 1)
    assert result.stderr == "pcr: error: You must specify a region.\n"


@pytest.mark.moto_world(polls_to_finish=10)  # its jobs stay unfinished
def test_stop_runnable_finds_runnable_array_children(
    moto_world: MotoWorld, slow_aws: Runtime
) -> None:
    ours = _submitter(moto_world, "fanned")
    children = ours.submit_jobs([{"x": i, "y": 1} for i in range(3)])  # one array job
    parent = children[0].split(":")[0]
    for _ in range(2):  # children to PENDING; the command's own describe moves them on once
        moto_world.clients.batch.describe_jobs(jobs=[parent])
    stopped = invoke(["stop-runnable", moto_world.queue, "--yes"], obj=slow_aws)
    assert_clean_exit(stopped, 0)
    assert sorted(lines(stopped.stdout)) == sorted(children)  # each child, not the parent
    assert ours.get_batch_id() in stopped.stderr
    # AWS lists array children through their parent, not by queue
    failed = moto_world.clients.batch.list_jobs(arrayJobId=parent, jobStatus="FAILED")
    assert sorted(s["jobId"] for s in failed["jobSummaryList"]) == sorted(children)


def test_cleanup_data_deletes_one_batchs_objects_after_asking(
    moto_world: MotoWorld, aws: Runtime, tmp_path: Path
) -> None:
    kept = _submit(moto_world, aws, tmp_path, "--name", "kept")
    batch_id = _submit(moto_world, aws, tmp_path, "--name", "gone")
    assert_clean_exit(invoke(["wait", batch_id, *_where(moto_world)], obj=aws), 0)
    assert_clean_exit(invoke(["wait", kept, *_where(moto_world)], obj=aws), 0)

    def keys(prefix: str) -> list[str]:
        found = moto_world.clients.s3.list_objects_v2(Bucket=moto_world.bucket, Prefix=prefix)
        return [item["Key"] for item in found.get("Contents", [])]

    before = keys(f"jobs/{batch_id}/")
    assert len(before) >= 6  # 3 inputs, 3 outputs, the manifest
    data = ["cleanup", "--data", batch_id, "--bucket", moto_world.bucket]
    declined = invoke(data, obj=aws, input="n\n")
    assert_clean_exit(declined, 1)
    assert f"Delete {len(before)} object(s) under s3://{moto_world.bucket}/jobs/{batch_id}/?" in (
        declined.stderr
    )
    assert declined.stdout == ""
    assert keys(f"jobs/{batch_id}/") == before

    deleted = invoke([*data, "--yes"], obj=aws)
    assert_clean_exit(deleted, 0)
    assert json.loads(deleted.stdout)["deleted"] == len(before)
    assert keys(f"jobs/{batch_id}/") == []
    assert keys(f"jobs/{kept}/")  # another batch's data is untouched


@pytest.mark.moto_world(polls_to_finish=10)  # its jobs stay unfinished
def test_cleanup_data_refuses_bad_input_and_a_running_batch(
    moto_world: MotoWorld, slow_aws: Runtime
) -> None:
    running = _submitter(moto_world, "running")
    running.submit_job({"x": 1, "y": 1})
    batch_id = running.get_batch_id()
    where = ["--bucket", moto_world.bucket, "--yes"]
    queue = ["--queue", moto_world.queue]
    busy = invoke(["cleanup", "--data", batch_id, *where, *queue], obj=slow_aws)
    assert_clean_exit(busy, 1)
    assert "has 1 unfinished job(s)" in busy.stderr
    no_bucket = invoke(["cleanup", "--data", batch_id], obj=slow_aws)
    assert_clean_exit(no_bucket, 2)
    assert "--data needs --bucket" in no_bucket.stderr
    malformed = invoke(["cleanup", "--data", "not-a-batch", *where], obj=slow_aws)
    assert_clean_exit(malformed, 2)


def test_queue_bucket_image_come_from_the_environment(
    moto_world: MotoWorld, aws: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PCR_QUEUE", moto_world.queue)
    monkeypatch.setenv("PCR_BUCKET", moto_world.bucket)
    monkeypatch.setenv("PCR_IMAGE", "img:env")
    monkeypatch.setenv("PCR_REGION", moto_world.region)
    jobs = write_jobs(tmp_path / "jobs.jsonl", SUM_PRODUCT)
    submitted = invoke(["submit", str(jobs)], obj=aws)
    assert_clean_exit(submitted, 0)
    (batch_id,) = lines(submitted.stdout)
    assert moto_world.submitted()[0].job_queue == moto_world.queue
    waited = invoke(["wait", batch_id], obj=aws)
    assert_clean_exit(waited, 0)
    assert lines(waited.stdout) == EXPECTED
    assert_clean_exit(invoke(["status", batch_id], obj=aws), 0)


def test_run_local_ignores_aws_settings_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PCR_QUEUE", "some-queue")
    monkeypatch.setenv("PCR_BUCKET", "some-bucket")
    monkeypatch.setenv("PCR_REGION", "eu-west-1")
    monkeypatch.setenv("PCR_IMAGE", "some-image")
    jobs = write_jobs(tmp_path / "jobs.jsonl", SUM_PRODUCT[:1])
    command = ["run", str(jobs), "--local", "-c", worker_command()]
    result = invoke(command)
    assert_clean_exit(result, 0)
    assert lines(result.stdout) == EXPECTED[:1]
    given = invoke([*command, "--queue", "q"])
    assert_clean_exit(given, 2)
    assert "drop them with --local" in given.stderr


def test_help_names_the_environment_variables_and_the_batch_id() -> None:
    run_help = invoke(["run", "--help"]).stdout
    for name in ("PCR_QUEUE", "PCR_BUCKET", "PCR_IMAGE", "PCR_REGION"):
        assert name in run_help
    assert "pcr_sdk.worker" in run_help  # --array says which workers it is for
    status_help = invoke(["status", "--help"]).stdout
    assert "<name>_<uuid>" in status_help
    assert "(_)" not in status_help
    run = getattr(get_command(app), "commands", {})["run"]
    (timeout,) = [p for p in run.params if p.name == "timeout"]
    assert "keep running" not in timeout.help.split("on AWS", 1)[0]  # only AWS jobs do


def test_status_prints_the_batch_id_whole(
    moto_world: MotoWorld, aws: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch_id = _submit(moto_world, aws, tmp_path)
    monkeypatch.setenv("COLUMNS", "30")
    result = invoke(["status", batch_id, "--queue", moto_world.queue], obj=aws)
    assert_clean_exit(result, 0)
    assert f"batch {batch_id} in queue {moto_world.queue}" in lines(result.stderr)
