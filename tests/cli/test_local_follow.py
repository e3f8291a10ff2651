"""Following a local batch after the run: `pcr status / wait / outputs / logs / report / retry /
cancel --local` read the local account `pcr run --local` kept, from a new process, joining the
process that holds the account or opening it; where the account lives; `pcr local ls/rm/reset`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Final

import pytest

from pcr_sdk.cli._local import WAIT_SECONDS
from pcr_sdk.cli._runtime import Runtime
from pcr_sdk.local import LocalAccount, LocalBackend
from tests.support.cli import (
    LAUNCHER,
    PLAIN_WORKER,
    SLEEPY_WORKER,
    PcrProcess,
    assert_clean_exit,
    invoke,
    lines,
    wait_until,
    worker_command,
    write_jobs,
)

pytestmark = pytest.mark.subprocess

FLAKY: Final = """
import pathlib
from pcr_sdk.worker import run

def handler(data):
    marker = pathlib.Path("markers") / str(data["n"])  # relative: the working directory's
    if data.get("flaky") and not marker.exists():
        marker.parent.mkdir(exist_ok=True)
        marker.write_text("")
        raise RuntimeError("fails the first time")
    return {"n": data["n"]}

run(handler)
"""
ROWS: Final = ['{"x": 2, "y": 3}', '{"x": 1}', '{"x": 4, "y": 5}']


def _pcr(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", LAUNCHER, *args],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _batch_id(stderr: str) -> str:
    first = next(line for line in lines(stderr) if line.startswith("batch "))
    return first.split()[1].rstrip(":")


def test_from_a_fresh_home_a_run_is_read_by_new_processes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "PCR_", "XDG_"))
    }
    env["HOME"] = str(home)
    jobs = write_jobs(tmp_path / "jobs.jsonl", ROWS)
    ran = _pcr(["run", str(jobs), "--local", "-c", worker_command(PLAIN_WORKER)], env, tmp_path)
    assert ran.returncode == 1, ran.stderr  # job 1 has no "y"
    batch = _batch_id(ran.stderr)
    account = home / ".local" / "state" / "pcr-sdk" / "local"
    assert (account / "credentials").is_file()  # the platform's user state directory
    assert f"kept in the local account {account}" in ran.stderr

    status = _pcr(["status", batch, "--local"], env, tmp_path)
    outputs = _pcr(["outputs", batch, "--local"], env, tmp_path)
    report = _pcr(["report", batch, "--local", "-o", "r.html"], env, tmp_path)

    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout) == {
        "batch_id": batch, "jobs": 3, "counts": {"SUCCEEDED": 2, "FAILED": 1}, "outputs": 2,
    }  # fmt: skip
    assert outputs.returncode == 1, outputs.stderr  # one job has no output
    assert outputs.stdout == ran.stdout  # the very lines `run` printed
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert batch in page
    assert "KeyError" in page  # the failed job's log tail, read back from the kept logs


def test_the_suite_and_pcr_local_dir_keep_out_of_the_users_state_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = Path(os.environ["PCR_LOCAL_DIR"])  # the suite's conftest sets it for every test
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    assert LocalAccount.default_path() == tmp_path / "home" / ".local" / "state" / "pcr-sdk" / (
        "local"
    )
    jobs = write_jobs(tmp_path / "jobs.jsonl", ROWS[:1])
    result = invoke(["run", str(jobs), "--local", "-c", worker_command(PLAIN_WORKER)])
    assert_clean_exit(result, 0)
    assert not (tmp_path / "home").exists()  # HOME's state directory untouched
    assert [b.jobs for b in LocalAccount(chosen).batches()] == [1]


def test_pcr_local_dir_alone_does_not_mean_local(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PCR_LOCAL_DIR", str(tmp_path / "account"))
    for name in ("PCR_QUEUE", "PCR_BUCKET"):
        monkeypatch.delenv(name, raising=False)
    refused = {
        ("status", "b_1"): "Missing option '--queue' (or --local",
        ("outputs", "b_1", "--queue", "q"): "Missing option '--bucket'",
        ("status", "b_1", "--queue", "q", "--data-dir", str(tmp_path)): "--data-dir needs --local",
        ("status", "b_1", "--local", "--queue", "q"): "--queue is for AWS",
        ("retry", "b_1"): "Missing option '--queue' and '--bucket'",
    }
    fake = Runtime(aws_clients=lambda region: pytest.fail("no AWS call"))
    for args, message in refused.items():
        result = invoke(list(args), obj=fake)
        assert_clean_exit(result, 2)
        assert message in result.stderr, (args, result.stderr)
    assert not (tmp_path / "account").exists()


def test_follow_a_local_batch_and_retry_it_with_the_kept_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "flaky.py").write_text(FLAKY, encoding="utf-8")
    jobs = write_jobs(work / "jobs.jsonl", ['{"n": 0}', '{"n": 1, "flaky": true}', '{"n": 2}'])
    monkeypatch.chdir(work)
    ran = invoke(["run", "jobs.jsonl", "--local", "-c", "python flaky.py", "-p", "3"])
    assert_clean_exit(ran, 1, job_logs=True)
    batch = _batch_id(ran.stderr)
    assert lines(ran.stdout) == ['{"n":0}', "null", '{"n":2}']
    assert jobs.is_file()

    monkeypatch.chdir(tmp_path)  # elsewhere: the account keeps the working directory
    status = invoke(["status", batch, "--local"])
    assert_clean_exit(status, 0)
    assert json.loads(status.stdout)["counts"] == {"SUCCEEDED": 2, "FAILED": 1}
    rows = [[cell.strip() for cell in line.split("│")] for line in lines(status.stderr)]
    failed_id = next(row[2] for row in rows if len(row) > 3 and row[1] == "1")
    logs = invoke(["logs", failed_id, "--local"])
    assert_clean_exit(logs, 0)
    assert "RuntimeError: fails the first time" in logs.stdout

    retried = invoke(["retry", batch, "--local"])
    assert_clean_exit(retried, 0)
    assert "the reruns run here, and this waits for them" in retried.stderr
    line = json.loads(retried.stdout)
    assert len(line["resubmitted"]) == 1
    assert line["counts"] == {"SUCCEEDED": 3}

    outputs = invoke(["outputs", batch, "--local"])
    assert_clean_exit(outputs, 0)
    assert lines(outputs.stdout) == ['{"n":0}', '{"n":1}', '{"n":2}']
    waited = invoke(["wait", batch, "--local", "--timeout", "60"])
    assert_clean_exit(waited, 0)
    assert lines(waited.stdout) == lines(outputs.stdout)
    cancelled = invoke(["cancel", batch, "--local"])
    assert_clean_exit(cancelled, 0)
    assert json.loads(cancelled.stdout)["terminated"] == 0
    missing = invoke(["status", "nope_00000000-0000-4000-8000-000000000000", "--local"])
    assert_clean_exit(missing, 1)
    assert "in the local account" in missing.stderr


def test_a_follow_up_command_joins_the_process_holding_the_account(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    rows = [json.dumps({"marks": str(marks), "sleep": 300}) for _ in range(2)]
    jobs = write_jobs(tmp_path / "jobs.jsonl", rows)
    env = dict(os.environ)
    running = PcrProcess(
        ["run", str(jobs), "--local", "-c", worker_command(SLEEPY_WORKER), "-p", "2"],
        cwd=tmp_path,
        env=env,
    )
    try:
        running.wait_for_stderr("batch ")
        batch = _batch_id("".join(running.stderr_lines))
        wait_until(lambda: len(list(marks.iterdir())) == 2, 60, "both jobs running")

        status = _pcr(["status", batch, "--local"], env, tmp_path)
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["counts"] == {"RUNNING": 2}
        assert "the local account is held by " in status.stderr
        assert f"(process {running.popen.pid}): asking it" in status.stderr

        cancel = _pcr(["cancel", batch, "--local", "--reason", "enough"], env, tmp_path)
        assert cancel.returncode == 0, cancel.stderr
        code, stdout, stderr = running.finish(timeout=60)
    finally:
        if running.popen.poll() is None:
            running.popen.kill()
            running.finish()
    assert code == 1, stderr
    assert lines(stdout) == ["null", "null"]
    assert "enough" in stderr


def test_run_waits_for_the_holder_to_let_go_of_the_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "account"
    monkeypatch.setenv("PCR_LOCAL_DIR", str(directory))
    holder = LocalBackend(data_dir=directory)
    holder.start()
    waits: list[float] = []

    def let_go(seconds: float) -> None:
        waits.append(seconds)
        holder.close()

    jobs = write_jobs(tmp_path / "jobs.jsonl", ROWS[:1])
    try:
        result = invoke(
            ["run", str(jobs), "--local", "-c", worker_command(PLAIN_WORKER)],
            obj=Runtime(sleep=let_go),
        )
    finally:
        holder.close()
    assert_clean_exit(result, 0)
    assert waits[0] == WAIT_SECONDS  # then the SDK's polls (no real sleep either)
    assert "waiting for " in result.stderr
    assert "to let go of the local account" in result.stderr


def test_local_ls_rm_and_reset(tmp_path: Path) -> None:
    jobs = write_jobs(tmp_path / "jobs.jsonl", ROWS[:1])
    first = _batch_id(invoke(["run", str(jobs), "--local", "-c", worker_command()]).stderr)
    second = _batch_id(invoke(["run", str(jobs), "--local", "-c", worker_command()]).stderr)

    listed = invoke(["local", "ls"])
    assert_clean_exit(listed, 0)
    kept = [json.loads(line) for line in lines(listed.stdout)]
    assert [b["batch_id"] for b in kept] == [first, second]
    assert all(b["jobs"] == 1 and b["s3_bytes"] > 0 and b["log_bytes"] > 0 for b in kept)
    assert "2 batch(es)" in listed.stderr

    assert_clean_exit(invoke(["local", "rm", first], input="n\n"), 1)  # asked, said no
    removed = invoke(["local", "rm", first, "--yes"])
    assert_clean_exit(removed, 0)
    assert [json.loads(x)["batch_id"] for x in lines(invoke(["local", "ls"]).stdout)] == [second]
    unknown = invoke(["local", "rm", first, "--yes"])
    assert_clean_exit(unknown, 1)
    assert f"keeps no batch {first}" in unknown.stderr
    gone = invoke(["status", first, "--local"])
    assert_clean_exit(gone, 1)

    account = Path(os.environ["PCR_LOCAL_DIR"])
    with LocalBackend(data_dir=account):
        busy = invoke(["local", "reset", "--yes"])
        assert_clean_exit(busy, 1)
        assert "held by" in busy.stderr
    assert_clean_exit(invoke(["local", "reset", "--yes"]), 0)
    assert lines(invoke(["local", "ls"]).stdout) == []
    assert (account / "credentials").is_file()
