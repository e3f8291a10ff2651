"""`pcr run --local`: real worker processes on the embedded backend."""

from __future__ import annotations

import json
import sys
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from pcr_sdk.cli._runtime import LocalEnvironment, LocalOptions, Runtime
from tests.cli._helpers import (
    PLAIN_WORKER,
    assert_clean_exit,
    invoke,
    lines,
    worker_command,
    write_jobs,
)


def _no_backend(options: LocalOptions) -> AbstractContextManager[LocalEnvironment]:
    raise AssertionError("the backend must not start for bad input")


NO_BACKEND = Runtime(local_backend=_no_backend, aws_clients=lambda region: pytest.fail("AWS"))


def test_plain_boto3_worker_gives_outputs_in_input_order(tmp_path: Path) -> None:
    jobs = write_jobs(
        tmp_path / "jobs.jsonl", ['{"x": 2, "y": 3}', "", '{"x": 10, "y": 4}', '{"x": -1, "y": 7}']
    )
    result = invoke(["run", str(jobs), "--local", "--command", worker_command(), "-p", "2"])
    assert_clean_exit(result, 0)
    assert [json.loads(line) for line in lines(result.stdout)] == [
        {"x+y": 5, "x*y": 6},
        {"x+y": 14, "x*y": 40},
        {"x+y": 6, "x*y": -7},
    ]
    assert lines(result.stdout)[0] == '{"x+y":5,"x*y":6}'  # compact, one line per job
    assert "summary" in result.stderr
    assert "3 succeeded" in result.stderr


def test_failed_job_prints_null_exits_1_and_shows_its_log(tmp_path: Path) -> None:
    jobs = write_jobs(tmp_path / "jobs.jsonl", ['{"x": 1, "y": 2}', '{"x": 1}'])
    result = invoke(["run", str(jobs), "--local", "--command", worker_command()])
    assert_clean_exit(result, 1, job_logs=True)
    assert lines(result.stdout) == ['{"x+y":3,"x*y":2}', "null"]
    assert "FAILED job 1" in result.stderr
    assert "KeyError: 'y'" in result.stderr  # the failed job's log tail


def test_worker_given_as_module_command(tmp_path: Path) -> None:
    jobs = write_jobs(tmp_path / "jobs.jsonl", ['{"task": "squares", "first": 1, "last": 3}'])
    command = f"{sys.executable} -m pcr_sdk.cli._demo_worker"
    result = invoke(["run", str(jobs), "--local", "-c", command, "--name", "mod"])
    assert_clean_exit(result, 0)
    assert lines(result.stdout) == ['{"sum":14,"terms":3}']
    assert "mod_" in result.stderr


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (['{"x": 1, "y": 2}', "", "{not json"], "jobs.jsonl:3: not valid JSON: "),
        (['{"x": NaN}'], "jobs.jsonl:1: not valid JSON: NaN"),
        (["", "   "], "jobs.jsonl: no jobs"),
    ],
)
def test_bad_input_exits_2_naming_file_and_line(
    tmp_path: Path, rows: list[str], message: str
) -> None:
    jobs = write_jobs(tmp_path / "jobs.jsonl", rows)
    result = invoke(["run", str(jobs), "--local", "--command", worker_command()], obj=NO_BACKEND)
    assert_clean_exit(result, 2)
    assert result.stdout == ""
    assert message in result.stderr
    assert len(lines(result.stderr)) == 1


def test_missing_file_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    result = invoke(["run", str(missing), "--local", "-c", "python w.py"], obj=NO_BACKEND)
    assert_clean_exit(result, 2)
    assert f"{missing}: cannot read" in result.stderr


def test_stdin_is_read_for_dash() -> None:
    result = invoke(
        ["run", "-", "--local", "-c", worker_command(PLAIN_WORKER)],
        input='{"x": 4, "y": 5}\n',
    )
    assert_clean_exit(result, 0)
    assert lines(result.stdout) == ['{"x+y":9,"x*y":20}']


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "--queue, --bucket, --image required"),
        (["--queue", "q", "--bucket", "b"], "--image required"),
        (["--local"], "--local needs --command"),
        (["--local", "-c", "python w.py", "--queue", "q"], "drop them with --local"),
        (["--local", "-c", "'unclosed"], "--command: No closing quotation"),
        (["--local", "-c", "  "], "--command is empty"),
        (["--parallel", "2", "--queue", "q", "--bucket", "b", "--image", "i"], "need --local"),
        (["--local", "--docker"], "--docker needs --image"),
    ],
)
def test_bad_usage_exits_2(tmp_path: Path, args: list[str], message: str) -> None:
    jobs = write_jobs(tmp_path / "jobs.jsonl", ['{"x": 1, "y": 2}'])
    result = invoke(["run", str(jobs), *args], obj=NO_BACKEND)
    assert_clean_exit(result, 2)
    assert message in result.stderr


def test_invalid_batch_name_exits_2(tmp_path: Path) -> None:
    jobs = write_jobs(tmp_path / "jobs.jsonl", ['{"x": 1, "y": 2}'])
    result = invoke(["run", str(jobs), "--local", "-c", worker_command(), "--name", "-bad"])
    assert_clean_exit(result, 2)
    assert "batch name must start with" in result.stderr
