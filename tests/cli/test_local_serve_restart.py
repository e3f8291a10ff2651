"""`pcr local serve --data-dir D`, stopped and started again, still holds an S3 object put
before the stop and the description of a SUCCEEDED job, and a client holding the old export
lines still works."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import sys
from pathlib import Path

import boto3
import pytest

from tests.support.cli import PcrProcess, wait_until

pytestmark = [
    pytest.mark.subprocess,
    pytest.mark.skipif(sys.platform != "linux", reason="as the other serve tests"),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(directory: Path, port: int, cwd: Path) -> tuple[PcrProcess, dict[str, str]]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    process = PcrProcess(
        ["local", "serve", "--port", str(port), "--data-dir", str(directory)], cwd=cwd, env=env
    )
    process.wait_for_stdout("Ctrl-C or SIGTERM")
    exports = {}
    for line in process.stdout_lines:
        if line.strip().startswith("export "):
            name, _, value = line.strip().removeprefix("export ").partition("=")
            exports[name] = shlex.split(value)[0]
    return process, exports


def _stop(process: PcrProcess) -> None:
    process.send(signal.SIGTERM)
    code, _, stderr = process.finish(timeout=60)
    assert code == 143, stderr


def test_a_restarted_server_keeps_objects_and_jobs_and_the_old_export_lines_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "account"
    port = _free_port()
    first, exports = _serve(directory, port, tmp_path)
    try:
        for name in list(os.environ):
            if name.startswith("AWS_"):
                monkeypatch.delenv(name)
        for name, value in exports.items():
            monkeypatch.setenv(name, value)  # the old export lines, in the client's shell
        monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        s3, batch, logs = boto3.client("s3"), boto3.client("batch"), boto3.client("logs")
        s3.put_object(Bucket=exports["PCR_BUCKET"], Key="before-the-stop.txt", Body=b"kept")
        definition = batch.register_job_definition(
            jobDefinitionName="restart",
            type="container",
            containerProperties={
                "image": "other", "vcpus": 1, "memory": 128,
                "command": [sys.executable, "-c", "print('ran before the stop')"],
            },
        )["jobDefinitionArn"]  # fmt: skip
        job_id = batch.submit_job(
            jobName="restart", jobQueue=exports["PCR_QUEUE"], jobDefinition=definition
        )["jobId"]
        wait_until(
            lambda: batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"] == "SUCCEEDED",
            60,
            "the job SUCCEEDED",
        )
        described = batch.describe_jobs(jobs=[job_id])["jobs"][0]
    finally:
        _stop(first)

    second, again = _serve(directory, port, tmp_path)
    try:
        assert again == exports  # the same keys, endpoint, queue and bucket
        kept = s3.get_object(Bucket=exports["PCR_BUCKET"], Key="before-the-stop.txt")
        assert kept["Body"].read() == b"kept"
        assert batch.describe_jobs(jobs=[job_id])["jobs"][0] == described
        events = logs.get_log_events(
            logGroupName="/aws/batch/job", logStreamName=described["container"]["logStreamName"]
        )["events"]
        assert [event["message"] for event in events] == ["ran before the stop"]
    finally:
        _stop(second)
