"""`pcr local serve` as a real child process, used from other processes as an AWS endpoint:
the seed's maintenance scripts (plain boto3, default credential chain) run unchanged against
it, `pcr submit` then `pcr wait` and `pcr outputs` run a batch on it, and SIGTERM stops it
and every job it runs."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import boto3
import pytest

from tests.support.cli import (
    LAUNCHER,
    PLAIN_WORKER,
    PcrProcess,
    alive,
    assert_clean_exit,
    invoke,
    lines,
    marked_pids,
    wait_until,
    worker_command,
    write_jobs,
)

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_logs import CloudWatchLogsClient

pytestmark = [
    pytest.mark.subprocess,
    pytest.mark.skipif(sys.platform != "linux", reason="reads /proc for process states"),
]

SCRIPTS: Final = Path(__file__).resolve().parents[1] / "support" / "seed_scripts"
BLOCKED_JOBS: Final = 120
DEFINITIONS: Final = 230
SLEEPER: Final = """
import os, pathlib, subprocess, sys, time
marks = pathlib.Path(sys.argv[1])
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
(marks / f"grandchild-{child.pid}").write_text("")
(marks / f"worker-{os.getpid()}").write_text("")
print("sleeping", flush=True)
time.sleep(300)
"""


@dataclass
class Served:
    """A running `pcr local serve` and the environment its `export` lines give a client."""

    process: PcrProcess
    env: dict[str, str]
    data_dir: Path


def _without_aws(environ: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in environ.items() if not name.startswith("AWS_")}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("serve")
    data_dir = root / "data"
    process = PcrProcess(
        [
            *("local", "serve", "--port", "0", "--vcpus", "2", "--memory", "4096"),
            *("--data-dir", str(data_dir), "--command", worker_command(PLAIN_WORKER)),
        ],
        cwd=root,
        env=_without_aws(dict(os.environ)),
    )
    try:
        process.wait_for_stdout("Ctrl-C or SIGTERM")
        env = _without_aws(dict(os.environ))
        env.update({"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull})
        unset = [line.strip() for line in process.stdout_lines if "unset" in line]
        assert unset == ["unset AWS_SESSION_TOKEN AWS_PROFILE"]  # no real token reaches it
        for line in process.stdout_lines:  # what a user pastes into another terminal
            if line.strip().startswith("export "):
                name, _, value = line.strip().removeprefix("export ").partition("=")
                env[name] = shlex.split(value)[0]
        assert env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
        yield Served(process, env, data_dir)
    finally:
        if process.popen.poll() is None:
            process.send(signal.SIGTERM)
        process.finish()


@pytest.fixture
def batch(served: Served, monkeypatch: pytest.MonkeyPatch) -> BatchClient:
    """A plain boto3 Batch client from the default credential chain and AWS_ENDPOINT_URL."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in served.env.items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    return boto3.Session().client("batch")


def _script(served: Served, name: str, *args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / name), *args],
        env=served.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return lines(done.stdout)


def _pcr(served: Served, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", LAUNCHER, *args],
        env=served.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _runnable(batch: BatchClient, queue: str) -> list[str]:
    pages = batch.get_paginator("list_jobs").paginate(jobQueue=queue, jobStatus="RUNNABLE")
    return [job["jobId"] for page in pages for job in page["jobSummaryList"]]


def _active(batch: BatchClient) -> list[str]:
    pages = batch.get_paginator("describe_job_definitions").paginate(status="ACTIVE")
    return [d["jobDefinitionArn"] for page in pages for d in page["jobDefinitions"]]


def test_the_seeds_stop_all_script_terminates_every_runnable_job(
    served: Served, batch: BatchClient
) -> None:
    queue = served.env["PCR_QUEUE"]
    too_big = batch.register_job_definition(  # 64 vCPUs never fit in 2: RUNNABLE for good
        jobDefinitionName="too-big",
        type="container",
        containerProperties={"image": "other", "vcpus": 64, "memory": 256, "command": ["true"]},
    )["jobDefinitionArn"]
    submitted = [
        batch.submit_job(jobName=f"blocked-{n}", jobQueue=queue, jobDefinition=too_big)["jobId"]
        for n in range(BLOCKED_JOBS)
    ]
    wait_until(lambda: len(_runnable(batch, queue)) == BLOCKED_JOBS, 30, "every job RUNNABLE")
    queue_arn = batch.describe_job_queues(jobQueues=[queue])["jobQueues"][0]["jobQueueArn"]

    printed = _script(served, "stop_all.py", queue_arn)

    assert len(printed) == BLOCKED_JOBS
    assert {line.rsplit("(", 1)[1].rstrip(")") for line in printed} == set(submitted)
    described = [
        job
        for start in range(0, BLOCKED_JOBS, 100)
        for job in batch.describe_jobs(jobs=submitted[start : start + 100])["jobs"]
    ]
    assert {job["status"] for job in described} == {"FAILED"}
    assert {job["statusReason"] for job in described} == {"Manual cancellation."}
    assert _runnable(batch, queue) == []


def test_the_seeds_deregister_all_script_deregisters_every_active_definition(
    served: Served, batch: BatchClient
) -> None:
    for n in range(DEFINITIONS):  # two revisions of most names
        batch.register_job_definition(
            jobDefinitionName=f"seed-{n % 150}",
            type="container",
            containerProperties={"image": "other", "vcpus": 1, "memory": 256},
        )
    active = _active(batch)
    assert len(active) >= DEFINITIONS

    printed = _script(served, "deregister_all.py")

    assert sorted(line.removeprefix("Deregistered ") for line in printed) == sorted(active)
    assert _active(batch) == []


def test_pcr_submit_then_wait_and_outputs_against_the_server(
    served: Served, tmp_path: Path
) -> None:
    jobs = write_jobs(tmp_path / "jobs.jsonl", ['{"x": 2, "y": 3}', '{"x": 4, "y": 5}'])

    submitted = _pcr(served, "submit", str(jobs), "--name", "served")
    assert submitted.returncode == 0, submitted.stderr
    batch_id = submitted.stdout.strip()
    assert batch_id.startswith("served_")
    waited = _pcr(served, "wait", batch_id, "--timeout", "60")
    outputs = _pcr(served, "outputs", batch_id)

    expected = [{"x+y": 5, "x*y": 6}, {"x+y": 9, "x*y": 20}]
    assert waited.returncode == 0, waited.stderr
    assert [json.loads(line) for line in lines(waited.stdout)] == expected
    assert outputs.returncode == 0, outputs.stderr
    assert [json.loads(line) for line in lines(outputs.stdout)] == expected


def test_the_export_lines_carry_the_keys_kept_in_the_data_directory(served: Served) -> None:
    keys = (served.data_dir / "credentials").read_text()
    assert (served.data_dir / "credentials").stat().st_mode & 0o777 == 0o600
    assert f"aws_access_key_id = {served.env['AWS_ACCESS_KEY_ID']}" in keys
    assert f"aws_secret_access_key = {served.env['AWS_SECRET_ACCESS_KEY']}" in keys
    foreign = boto3.Session(
        aws_access_key_id=served.env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key="not-the-secret",
        region_name="us-east-1",
    ).client("batch", endpoint_url=served.env["AWS_ENDPOINT_URL"])
    with pytest.raises(foreign.exceptions.ClientError, match="InvalidSignatureException"):
        foreign.describe_job_queues()


def _printed(batch: BatchClient, job_id: str) -> list[str]:
    """What the job has printed so far, read through the server's CloudWatch Logs."""
    (job,) = batch.describe_jobs(jobs=[job_id])["jobs"]
    stream = job.get("container", {}).get("logStreamName")
    if not stream:
        return []
    logs: CloudWatchLogsClient = boto3.Session().client("logs")
    answer = logs.get_log_events(logGroupName="/aws/batch/job", logStreamName=stream)
    return [event.get("message", "") for event in answer["events"]]


def test_sigterm_stops_the_server_and_every_job_it_runs(
    served: Served, batch: BatchClient, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()

    def logs() -> list[str]:
        return [path.read_text(encoding="utf-8") for path in served.data_dir.rglob("*.log")]

    definition = batch.register_job_definition(
        jobDefinitionName="sleeper",
        type="container",
        containerProperties={
            "image": "other",
            "vcpus": 1,
            "memory": 256,
            "command": [sys.executable, "-c", SLEEPER, str(marks)],
        },
    )["jobDefinitionArn"]
    job_id = batch.submit_job(
        jobName="sleeper", jobQueue=served.env["PCR_QUEUE"], jobDefinition=definition
    )["jobId"]
    wait_until(lambda: len(marked_pids(marks, "worker")) == 1, 30, "the job running")
    everyone = marked_pids(marks, "worker") + marked_pids(marks, "grandchild")
    wait_until(lambda: "sleeping" in _printed(batch, job_id), 30, "its log line")

    served.process.send(signal.SIGTERM)
    code, _, stderr = served.process.finish(timeout=30)

    assert code == 143, stderr
    assert "stopped" in stderr
    assert "Traceback" not in stderr
    wait_until(lambda: not any(alive(pid) for pid in everyone), 5, "every job process gone")
    assert any(text.endswith(" sleeping\n") for text in logs())  # --data-dir keeps the logs


def test_serving_beyond_loopback_needs_expose_and_warns(tmp_path: Path) -> None:
    refused = invoke(["local", "serve", "--host", "0.0.0.0", "--port", "0"])
    assert_clean_exit(refused, 2)
    assert "--expose" in refused.stderr

    process = PcrProcess(
        ["local", "serve", "--host", "0.0.0.0", "--expose", "--port", "0"],
        cwd=tmp_path,
        env=_without_aws(dict(os.environ)),
    )
    try:
        process.wait_for_stdout("Ctrl-C or SIGTERM")
        listening = [line for line in process.stdout_lines if line.strip().startswith("listening")]
        assert listening[0].split()[1].startswith("0.0.0.0:")  # the real address, not 127.0.0.1
    finally:
        process.send(signal.SIGTERM)
        _, _, stderr = process.finish()
    assert "warning: listening on 0.0.0.0:" in stderr
    assert "runs any command here" in stderr


def test_serving_as_root_warns() -> None:
    from types import SimpleNamespace

    from pcr_sdk.cli._serve import _warnings

    loopback: Any = SimpleNamespace(host="127.0.0.1", address="127.0.0.1:1", allow_hosts=())
    assert _warnings(loopback, euid=1000) == []
    assert [w for w in _warnings(loopback, euid=0) if "serving as root" in w]


def test_serve_reports_a_port_in_use_and_a_bad_command() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = invoke(["local", "serve", "--port", port])
    assert_clean_exit(result, 1)
    assert f"cannot serve on 127.0.0.1:{port}" in result.stderr
    assert_clean_exit(invoke(["local", "serve", "--command", "  "]), 2)


def test_serve_names_the_renamed_docker_flag_and_a_runtime_that_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    renamed = invoke(["local", "serve", "--docker"])
    assert_clean_exit(renamed, 2)
    assert "--docker is now --containers docker" in renamed.stderr
    monkeypatch.setenv("PATH", str(tmp_path))  # no container CLI on it
    missing = invoke(["local", "serve", "--port", "0", "--containers", "podman"])
    assert_clean_exit(missing, 1)
    assert "the local backend did not start: containers='podman': no podman CLI on PATH" in (
        missing.stderr
    )
