"""`pcr run --local`: real worker processes on the embedded backend."""

from __future__ import annotations

import itertools
import json
import sys
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from pcr_sdk.cli._batch import parse_jobs, read_jobs
from pcr_sdk.cli._runtime import LocalEnvironment, LocalOptions, Runtime
from tests.support.cli import (
    EXAMPLE,
    EXITS_WORKER,
    PLAIN_WORKER,
    SDK_WORKER,
    assert_clean_exit,
    invoke,
    lines,
    worker_command,
    write_jobs,
)

pytestmark = pytest.mark.subprocess


def _no_backend(options: LocalOptions) -> AbstractContextManager[LocalEnvironment]:
    raise AssertionError("the backend must not start for bad input")


NO_BACKEND = Runtime(local_backend=_no_backend, aws_clients=lambda region: pytest.fail("AWS"))


def test_plain_boto3_worker_gives_outputs_in_input_order(tmp_path: Path) -> None:
    jobs = write_jobs(
        tmp_path / "jobs.jsonl", ['{"x": 2, "y": 3}', '{"x": 10, "y": 4}', '{"x": -1, "y": 7}']
    )
    command = worker_command(PLAIN_WORKER)
    result = invoke(["run", str(jobs), "--local", "--command", command, "-p", "2"])
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
        (['{"x": 1, "y": 2}', '{"x": 3}', "{not json"], "jobs.jsonl:3: not valid JSON: "),
        (['{"x": NaN}'], "jobs.jsonl:1: not valid JSON: NaN"),
        (['{"x": 1, "y": 2}', "", '{"x": 3}'], "jobs.jsonl:2: blank line"),
        (['{"x": 1, "y": 2}', "   "], "jobs.jsonl:2: blank line"),
        (['{"x": 1, "y": 2}', ""], "jobs.jsonl:2: blank line"),  # two newlines at the end
        (["[1, 2"], "jobs.jsonl:1: not valid JSON"),
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
        (["--local", "--containers", "podman"], "--containers podman needs --image"),
        (["--local", "--containers", "lxc"], "'lxc' is not one of 'docker', 'podman'"),
        (["--local", "--docker", "--image", "i"], "--docker is now --containers docker"),
        (
            ["--containers", "docker", "--queue", "q", "--bucket", "b", "--image", "i"],
            "need --local",
        ),
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


def test_input_lines_parse_with_a_bom_crlf_and_a_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"x": 1, "y": 2}\r\n{"x": 3, "y": 4}\r\n')
    assert read_jobs(path) == [{"x": 1, "y": 2}, {"x": 3, "y": 4}]
    assert parse_jobs('{"a": 1}', source="s") == [{"a": 1}]  # no final newline either
    assert parse_jobs('"\u2028"\n', source="s") == ["\u2028"]  # JSON may hold U+2028 raw


def test_an_empty_file_is_an_input_error(tmp_path: Path) -> None:
    jobs = tmp_path / "empty.jsonl"
    jobs.write_text("", encoding="utf-8")
    result = invoke(["run", str(jobs), "--local", "-c", worker_command()], obj=NO_BACKEND)
    assert_clean_exit(result, 2)
    assert "empty.jsonl: no jobs (the file is empty)" in result.stderr


def test_the_shipped_example_inputs_have_no_blank_line() -> None:
    for path in EXAMPLE.parent.rglob("*.jsonl"):
        assert read_jobs(path), path


def test_handlers_that_exit_or_return_no_json_fail_their_jobs_and_every_log_is_kept(
    tmp_path: Path,
) -> None:
    rows = ['{"exit": 0}', '{"set": true}', '{"exit": 3}', '{"exit": "bye"}', '{"ok": 1}']
    jobs = write_jobs(tmp_path / "jobs.jsonl", rows)
    result = invoke(["run", str(jobs), "--local", "-c", worker_command(EXITS_WORKER), "-p", "2"])
    assert_clean_exit(result, 1, job_logs=True)
    assert lines(result.stdout) == ["null", "null", "null", "null", '{"ok":1}']
    assert "the handler exited (sys.exit(0)) without returning an output" in result.stderr
    assert "exit code 3" in result.stderr
    (named,) = [line for line in lines(result.stderr) if "the logs of all 4 failed job(s)" in line]
    path = Path(named.rsplit(" are in ", 1)[1])
    kept = path.read_text(encoding="utf-8")
    path.unlink()
    assert kept.count("=== job ") == 4
    assert "job output is not JSON-serializable" in kept  # not "input"
    assert "sys.exit('bye')" in kept
    assert "the job fails with exit code 3" in kept
    assert result.stderr.count("last lines of failed job") == 3  # the others: in the file


def test_array_mode_runs_an_sdk_worker(tmp_path: Path) -> None:
    jobs = write_jobs(tmp_path / "jobs.jsonl", [f'{{"x": {i}, "y": 1}}' for i in range(4)])
    result = invoke(
        ["run", str(jobs), "--local", "--array", "-c", worker_command(SDK_WORKER), "-p", "4"]
    )
    assert_clean_exit(result, 0)
    assert [json.loads(line)["x+y"] for line in lines(result.stdout)] == [1, 2, 3, 4]


def test_off_a_terminal_progress_is_plain_unwrapped_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    jobs = write_jobs(tmp_path / "jobs.jsonl", ['{"x": 1, "y": 2}', '{"x": 1}', '{"x": 2, "y": 2}'])
    result = invoke(["run", str(jobs), "--local", "-c", worker_command(), "-p", "3"])
    assert_clean_exit(result, 1, job_logs=True)
    err = lines(result.stderr)
    assert err[0].startswith("batch pcr-run_")  # the batch id first, whole
    assert err[0].endswith(": 3 job(s) on the local backend")
    failed = [line for line in err if line.startswith("FAILED job 1 ")]
    assert len(failed) == 1
    assert failed[0].endswith(": Essential container in task exited, exit code 1")
    progress = [line for line in err if line.startswith("finished ")]
    assert progress[-1].startswith("finished 3/3: 2 succeeded, 1 failed")
    assert all(a != b for a, b in itertools.pairwise(progress))  # a line per change only
    row = next(line for line in err if "Essential container in task exited" in line and "│" in line)
    assert len(row) > 40  # the table is as wide as its content, not the 40 columns


def test_a_container_runtime_that_is_not_there_fails_the_run_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = write_jobs(tmp_path / "jobs.jsonl", ['{"x": 1, "y": 2}'])
    monkeypatch.setenv("PATH", str(tmp_path))  # no docker CLI on it
    result = invoke(["run", str(jobs), "--local", "--containers", "docker", "--image", "w:1"])
    assert_clean_exit(result, 1)
    assert "the local backend did not start: containers='docker': no docker CLI" in result.stderr
