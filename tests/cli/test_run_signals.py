"""`pcr run --local` interrupted by a real signal, in a real child process: it stops
submitting, cancels, prints the outputs known so far in input order, leaves no worker process
(nor a worker's own child) behind, and exits 128 + the signal's number. `--timeout` does the
same with exit 124 and names --parallel when jobs were waiting for a slot."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pytest
from typer.testing import Result

from tests.support.cli import (
    SDK_WORKER,
    SLEEPY_WORKER,
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

pytestmark = [
    pytest.mark.subprocess,
    pytest.mark.skipif(sys.platform != "linux", reason="reads /proc for process states"),
]


def _sleepy_jobs(path: Path, marks: Path, sleeps: list[float]) -> Path:
    rows = [
        json.dumps({"marks": str(marks), "sleep": s, "grandchild": s > 1}, sort_keys=True)
        for s in sleeps
    ]
    return write_jobs(path, rows)


def _run_in_process(jobs: Path, *options: str) -> Result:
    return invoke(["run", str(jobs), "--local", "-c", worker_command(SLEEPY_WORKER), *options])


def _assert_all_dead(marks: Path, expected_workers: int) -> None:
    workers = marked_pids(marks, "worker")
    grandchildren = marked_pids(marks, "grandchild")
    assert len(workers) == expected_workers
    assert grandchildren  # the slow jobs each started one
    everyone = workers + grandchildren
    wait_until(lambda: not any(alive(pid) for pid in everyone), 5, "every worker process gone")


@pytest.mark.parametrize(
    ("number", "code"),
    [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGHUP, 129)],
)
def test_a_signal_cancels_prints_what_finished_and_leaves_no_worker(
    tmp_path: Path, number: signal.Signals, code: int
) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    jobs = _sleepy_jobs(tmp_path / "jobs.jsonl", marks, [0, 60, 0, 60])
    run = PcrProcess(
        ["run", str(jobs), "--local", "-c", worker_command(SLEEPY_WORKER), "-p", "4"],
        cwd=tmp_path,
    )
    run.wait_for_stderr("finished 2/4")
    wait_until(lambda: len(marked_pids(marks, "grandchild")) == 2, 30, "both grandchildren")
    run.send(number)
    exit_code, stdout, stderr = run.finish()

    assert exit_code == code, stderr
    assert lines(stdout) == ['{"slept":0}', "null", '{"slept":0}', "null"]  # input order
    assert f"interrupted by {number.name}" in stderr
    assert stderr.count("interrupted") == 1
    assert "Traceback" not in stderr
    _assert_all_dead(marks, expected_workers=4)


def test_a_second_signal_does_not_cut_the_clean_up_short(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    jobs = _sleepy_jobs(tmp_path / "jobs.jsonl", marks, [0, 60])
    run = PcrProcess(
        ["run", str(jobs), "--local", "-c", worker_command(SLEEPY_WORKER), "-p", "2"],
        cwd=tmp_path,
    )
    run.wait_for_stderr("finished 1/2")
    wait_until(lambda: len(marked_pids(marks, "grandchild")) == 1, 30, "the grandchild")
    run.send(signal.SIGTERM)
    run.wait_for_stderr("interrupted by SIGTERM")  # cancelled; outputs, summary, close to come
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        run.send(number)
    exit_code, stdout, stderr = run.finish()
    assert exit_code == 143  # the first signal's code: the later ones were ignored
    assert lines(stdout) == ['{"slept":0}', "null"]
    assert "summary" in stderr
    _assert_all_dead(marks, expected_workers=2)


def test_timeout_prints_known_outputs_exits_124_and_stops_the_rest(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    jobs = _sleepy_jobs(tmp_path / "jobs.jsonl", marks, [0, 60, 0])
    # enough for the two quick jobs on a loaded machine (each starts a Python with boto3)
    result = _run_in_process(jobs, "-p", "3", "--timeout", "8")
    assert_clean_exit(result, 124)
    assert lines(result.stdout) == ['{"slept":0}', "null", '{"slept":0}']
    assert "gave up waiting (--timeout): stopped 1 unfinished job(s)" in result.stderr
    assert "keep running" not in result.stderr  # not true locally
    _assert_all_dead(marks, expected_workers=3)


def test_timeout_names_parallel_when_jobs_waited_for_a_slot(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    jobs = _sleepy_jobs(tmp_path / "jobs.jsonl", marks, [60, 60])
    result = _run_in_process(jobs, "-p", "1", "--timeout", "5")  # the first job starts meanwhile
    assert_clean_exit(result, 124)
    assert lines(result.stdout) == ["null", "null"]
    assert "1 job(s) were waiting for a free slot: at most --parallel 1" in result.stderr
    assert "compute capacity" not in result.stderr
    _assert_all_dead(marks, expected_workers=1)


def test_an_sdk_worker_runs_as_python_without_the_venv_on_path(tmp_path: Path) -> None:
    """`--command "python worker.py"` runs the interpreter pcr runs in, whatever PATH says."""
    worker = tmp_path / "worker.py"
    worker.write_text(SDK_WORKER.read_text(encoding="utf-8"), encoding="utf-8")
    write_jobs(tmp_path / "jobs.jsonl", [f'{{"x": {i}, "y": 2}}' for i in range(6)])
    bin_dir = str(Path(sys.executable).parent)
    path = os.pathsep.join(
        p for p in os.environ.get("PATH", os.defpath).split(os.pathsep) if p != bin_dir
    )
    env = {**os.environ, "PATH": path or "/usr/bin:/bin"}
    env.pop("VIRTUAL_ENV", None)
    run = PcrProcess(
        ["run", "jobs.jsonl", "--local", "--command", "python worker.py"], cwd=tmp_path, env=env
    )
    exit_code, stdout, stderr = run.finish(timeout=120)
    assert exit_code == 0, stderr
    assert [json.loads(line) for line in lines(stdout)] == [
        {"x+y": i + 2, "x*y": 2 * i} for i in range(6)
    ]


def test_stream_prints_each_output_as_it_finishes_tagged_with_its_line(tmp_path: Path) -> None:
    """`--stream`: one {"line": K, "output": ...} per job, as each finishes; a failed job's
    output is null; nothing is printed again at the end."""
    jobs = write_jobs(tmp_path / "jobs.jsonl", ['{"x": 1, "y": 2}', '{"x": 1}', '{"x": 5, "y": 5}'])
    result = invoke(["run", str(jobs), "--local", "-c", worker_command(), "-p", "3", "--stream"])
    assert_clean_exit(result, 1, job_logs=True)
    records = [json.loads(line) for line in lines(result.stdout)]
    assert sorted(records, key=lambda r: int(r["line"])) == [
        {"line": 1, "output": {"x+y": 3, "x*y": 2}},
        {"line": 2, "output": None},
        {"line": 3, "output": {"x+y": 10, "x*y": 25}},
    ]


def test_stream_keeps_what_finished_when_a_signal_cuts_the_run_short(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    jobs = _sleepy_jobs(tmp_path / "jobs.jsonl", marks, [0, 60])
    run = PcrProcess(
        ["run", str(jobs), "--local", "-c", worker_command(SLEEPY_WORKER), "-p", "2", "--stream"],
        cwd=tmp_path,
    )
    run.wait_for_stderr("finished 1/2")
    wait_until(lambda: len(marked_pids(marks, "grandchild")) == 1, 30, "the grandchild")
    run.send(signal.SIGTERM)
    exit_code, stdout, stderr = run.finish()
    assert exit_code == 143, stderr
    assert lines(stdout) == ['{"line":1,"output":{"slept":0}}']  # out before the signal
    _assert_all_dead(marks, expected_workers=2)
