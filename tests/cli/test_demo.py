"""`pcr demo`: a real fan-out and tree reduce on the local backend, checked in closed form."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from contextlib import AbstractContextManager
from dataclasses import replace

import pytest

from pcr_sdk.cli._demo import reduce_levels, sum_of_squares
from pcr_sdk.cli._runtime import LocalEnvironment, LocalOptions, Runtime, start_local_backend
from tests.support.cli import assert_clean_exit, invoke, lines

pytestmark = pytest.mark.subprocess

WRONG_WORKER = """
import json, os, boto3
s3 = boto3.client("s3")
s3.put_object(Bucket=os.environ["S3_JOB_BUCKET"], Key=os.environ["S3_OUTPUT_OJBECT_KEY"],
              Body=json.dumps({"sum": 1, "terms": 1}))
"""


def test_demo_computes_the_sum_of_squares() -> None:
    result = invoke(["demo", "--jobs", "21", "--parallel", "2"])
    assert_clean_exit(result, 0)
    (line,) = lines(result.stdout)
    report = json.loads(line)
    n = 21 * 1000
    assert report["jobs"] == 21 + 2 + 1  # 21 work jobs, 2 partial reduces, 1 final reduce
    assert report["n"] == n
    assert report["result"] == report["expected"] == n * (n + 1) * (2 * n + 1) // 6
    assert report["correct"] is True
    assert "correct" in result.stderr
    assert "finished 24/24" in result.stderr  # progress on stderr, a plain line off a terminal


def test_demo_says_wrong_and_exits_1_when_a_worker_lies() -> None:
    def lying_backend(options: LocalOptions) -> AbstractContextManager[LocalEnvironment]:
        return start_local_backend(replace(options, command=[sys.executable, "-c", WRONG_WORKER]))

    result = invoke(["demo", "--jobs", "2"], obj=Runtime(local_backend=lying_backend))
    assert_clean_exit(result, 1)
    assert json.loads(result.stdout)["correct"] is False
    assert "WRONG" in result.stderr


@pytest.mark.parametrize(
    ("work_jobs", "levels"),
    [
        (1, [1]),
        (20, [1]),
        (21, [2, 1]),
        (50, [3, 1]),
        (60, [3, 1]),
        (400, [20, 1]),
        (401, [21, 2, 1]),
    ],
)
def test_reduce_tree_respects_the_20_dependency_limit(work_jobs: int, levels: list[int]) -> None:
    assert reduce_levels(work_jobs) == levels
    widths = [work_jobs, *levels]
    assert all(-(-below // 20) == above for below, above in itertools.pairwise(widths))


def test_closed_form() -> None:
    assert [sum_of_squares(n) for n in range(6)] == [0, 1, 5, 14, 30, 55]
    assert sum_of_squares(1000) == sum(i * i for i in range(1, 1001))


def test_demo_rejects_zero_jobs() -> None:
    result = invoke(["demo", "--jobs", "0"])
    assert result.exit_code == 2
    assert "--jobs" in result.stderr


def test_the_cli_package_imports_no_cli_framework() -> None:
    """Job processes import `pcr_sdk.cli._demo_worker` through the package: keep it light."""
    code = "import sys, pcr_sdk.cli; print(sorted({'typer', 'rich'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
