"""A hand-written batch for the report's tests: DescribeJobs entries with known timestamps.

Eleven jobs: successes, a retried success, failures of four kinds, a job that depends on a
plain job, one that depends on a whole array (`arr`, three children) and one that depends on
one child (`arr:2`). Times are seconds after T0; the expected figures below are worked out by
hand from them (see each job's comment: wait is from max(created, dependencies' stop)).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from pcr_sdk.report import ReportJob

if TYPE_CHECKING:
    from mypy_boto3_batch.type_defs import JobDetailTypeDef

T0 = 1_700_000_000_000
"""Epoch milliseconds of the fixture's first creation (2023-11-14 22:13:20 UTC)."""


def at(seconds: float) -> int:
    return T0 + round(seconds * 1000)


def _detail(
    job_id: str,
    status: str,
    created: float,
    started: float | None,
    stopped: float | None,
    *,
    vcpus: str = "1",
    memory: str = "2048",
    gpus: str | None = None,
    attempts: int = 1,
    depends_on: tuple[str, ...] = (),
    reason: str | None = None,
    array_index: int | None = None,
) -> JobDetailTypeDef:
    requirements = [{"type": "VCPU", "value": vcpus}, {"type": "MEMORY", "value": memory}]
    if gpus is not None:
        requirements.append({"type": "GPU", "value": gpus})
    detail: dict[str, Any] = {
        "jobId": job_id,
        "jobName": f"pcr-test-{job_id}",
        "jobQueue": "arn:aws:batch:us-east-1:123456789012:job-queue/q",
        "jobDefinition": "arn:aws:batch:us-east-1:123456789012:job-definition/d:1",
        "status": status,
        "createdAt": at(created),
        "attempts": [{"exitCode": 1}] * (attempts - 1) + ([{"exitCode": 0}] if attempts else []),
        "dependsOn": [{"jobId": d} for d in depends_on],
        "container": {"image": "python:3.11", "resourceRequirements": requirements},
    }
    if started is not None:
        detail["startedAt"] = at(started)
    if stopped is not None:
        detail["stoppedAt"] = at(stopped)
    if reason is not None:
        detail["statusReason"] = reason
    if array_index is not None:
        detail["arrayProperties"] = {"index": array_index}
    return cast("JobDetailTypeDef", detail)


# (detail, index, failure, log tail)
FIXTURE: list[tuple[JobDetailTypeDef, int, str | None, tuple[str, ...]]] = [
    # wait 10, run 60, 2 vCPU
    (_detail("job-a", "SUCCEEDED", 0, 10, 70, vcpus="2"), 0, None, ("a done",)),
    # retried twice; wait 30, run 20
    (_detail("job-b", "SUCCEEDED", 0, 30, 50, attempts=3), 1, None, ()),
    # wait 4, run 20; one retry
    (
        _detail(
            "job-c", "FAILED", 1, 5, 25, attempts=2, reason="Essential container in task exited"
        ),
        2,
        "non-zero-exit",
        ("Traceback (most recent call last):", "ValueError: bad input"),
    ),
    # depends on job-a (stopped 70): wait 80 - 70 = 10, run 20, 4 vCPU, 1 GPU
    (
        _detail("job-d", "SUCCEEDED", 2, 80, 100, vcpus="4", gpus="1", depends_on=("job-a",)),
        3,
        None,
        (),
    ),
    # never started: its dependency job-c failed
    (
        _detail(
            "job-e",
            "FAILED",
            2,
            None,
            26,
            attempts=0,
            depends_on=("job-c",),
            reason="Dependent Job failed",
        ),
        4,
        "dependency-failed",
        (),
    ),
    # array `arr`: children arr:0..2, 0.5 vCPU each; waits 12, 17, 13; runs 30, 12, 20
    (_detail("arr:0", "SUCCEEDED", 3, 15, 45, vcpus="0.5", array_index=0), 5, None, ()),
    (
        _detail(
            "arr:1",
            "FAILED",
            3,
            20,
            32,
            vcpus="0.5",
            array_index=1,
            reason="OutOfMemoryError: Container killed due to memory usage",
        ),
        6,
        "out-of-memory",
        ("allocating 8 GiB", "Killed"),
    ),
    (_detail("arr:2", "SUCCEEDED", 3, 16, 36, vcpus="0.5", array_index=2), 7, None, ()),
    # depends on the whole array (last child stopped 45): wait 50 - 45 = 5, run 65
    (_detail("job-f", "SUCCEEDED", 4, 50, 115, depends_on=("arr",)), 8, None, ()),
    # timed out: wait 1, run 60
    (
        _detail("job-g", "FAILED", 5, 6, 66, reason="Job attempt duration exceeded timeout"),
        9,
        "timeout",
        ("still working",),
    ),
    # depends on one child, arr:2 (stopped 36): wait 40 - 36 = 4, run 8
    (_detail("job-h", "SUCCEEDED", 4, 40, 48, depends_on=("arr:2",)), 10, None, ()),
]

EXPECTED_FAILURES = {"non-zero-exit": 1, "out-of-memory": 1, "timeout": 1, "dependency-failed": 1}
EXPECTED: dict[str, object] = {
    "jobs": 11,
    "counts_by_status": {"SUCCEEDED": 7, "FAILED": 4},
    "counts_by_failure": EXPECTED_FAILURES,
    "first_created_ms": T0,
    "end_ms": at(115),
    "wall_ms": 115_000,
    # runs: 60 20 20 20 30 12 20 65 60 8
    "run_total_ms": 315_000,
    "run_median_ms": 20_000.0,
    "run_jobs": 10,
    # waits sorted: 1 4 4 5 10 10 12 13 17 30
    "wait_median_ms": 10_000.0,
    "wait_p95_ms": 30_000.0,
    "wait_jobs": 10,
    # vCPU-seconds: 2*60 + 20 + 20 + 4*20 + 0.5*(30+12+20) + 65 + 60 + 8 = 404
    "vcpu_hours": 404 / 3600,
    "gpu_hours": 20 / 3600,
    "attempts": 13,
    "retries": 3,
    "jobs_retried": 2,
    "failed_total": 4,
}  # fmt: skip
EXPECTED_SLOWEST = [  # ties (60 s, 20 s) by index
    "job-f", "job-a", "job-g", "arr:0", "job-b", "job-c", "job-d", "arr:2", "arr:1", "job-h",
]  # fmt: skip
EXPECTED_FAILED = ["job-c", "job-e", "arr:1", "job-g"]
EXPECTED_WAITS = {
    "job-a": 10_000, "job-b": 30_000, "job-c": 4_000, "job-d": 10_000, "job-e": None,
    "arr:0": 12_000, "arr:1": 17_000, "arr:2": 13_000, "job-f": 5_000, "job-g": 1_000,
    "job-h": 4_000,
}  # fmt: skip


def fixture_jobs() -> list[ReportJob]:
    return [
        ReportJob.from_detail(detail, index=index, failure=failure, log_tail=tail)
        for detail, index, failure, tail in FIXTURE
    ]


NOISE = "INFO:botocore.credentials:Found credentials in environment variables."
LONG = "x" * 140
TRACEBACK = (
    NOISE,
    "INFO:pcr_sdk.worker:job 1 of batch r: loading jobs/r/1/config.json",
    "ERROR:pcr_sdk.worker:job 1 failed",
    "Traceback (most recent call last):",
    f'  File "/work/worker.py", line 12, in handler  # {LONG}',
    f"    check(data)  # {LONG}",
    f'  File "/work/worker.py", line 7, in check  # {LONG}',
    f"    raise ValueError(f'broken input {{n}}')  # {LONG}",
    f"    ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^  # {LONG}",
    "ValueError: broken input 1",
)
"""A failed job's log: botocore's noise first, a traceback whose lines wrap, the error last."""


def _rerun(job_id: str, index: int, status: str, times: tuple[float, float, float], *,
           attempt: int = 1, failure: str | None = None, reason: str | None = None,
           attempts: int = 1, log: tuple[str, ...] = ()) -> ReportJob:  # fmt: skip
    created, started, stopped = times
    return ReportJob(
        job_id=job_id, index=index, status=status, failure=failure, status_reason=reason,
        created_at=at(created), started_at=at(started), stopped_at=at(stopped), vcpus=1,
        memory_mib=1024, attempts=attempts, attempt=attempt, log_tail=log,
    )  # fmt: skip


EXITED = "Essential container in task exited"


def rerun_jobs() -> list[ReportJob]:
    """Six jobs after a `pcr retry` at +30 s reran the three that had failed.

    Index 1 failed (non-zero-exit) and its rerun succeeded; index 2 timed out and its rerun
    failed again (non-zero-exit, with botocore lines after its error); index 4 failed and its
    rerun succeeded; index 3 succeeded after one AWS Batch retry. Runs (s): 8; 3, 9; 17, 4; 8;
    3, 6; 4: 62 in all, over 9 runs; the last stop is at +40 s.
    """
    return [
        _rerun("ok-0", 0, "SUCCEEDED", (0, 2, 10), reason=EXITED,
               log=(NOISE, NOISE, "working", "done")),
        _rerun("fail-1", 1, "FAILED", (0, 2, 5), failure="non-zero-exit", reason=EXITED,
               log=TRACEBACK),
        _rerun("rerun-1", 1, "SUCCEEDED", (30, 31, 40), attempt=2, reason=EXITED),
        _rerun("slow-2", 2, "FAILED", (0, 3, 20), failure="timeout",
               reason="Job attempt duration exceeded timeout", log=("still working",)),
        _rerun("rerun-2", 2, "FAILED", (30, 31, 35), attempt=2, failure="non-zero-exit",
               reason=EXITED, log=("Traceback (most recent call last):", "KeyError: 'y'",
                                   NOISE, NOISE)),
        _rerun("retried-3", 3, "SUCCEEDED", (0, 4, 12), attempts=2, reason=EXITED),
        _rerun("fail-4", 4, "FAILED", (1, 3, 6), failure="non-zero-exit", reason=EXITED),
        _rerun("rerun-4", 4, "SUCCEEDED", (30, 32, 38), attempt=2),
        _rerun("ok-5", 5, "SUCCEEDED", (1, 5, 9)),
    ]  # fmt: skip
