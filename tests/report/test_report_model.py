"""`ReportJob.from_detail` and `BatchReport.build`: every figure, from hand-written timestamps."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

import pytest

from pcr_sdk.report import BatchReport, ReportJob
from tests.report._fixture import (
    EXPECTED,
    EXPECTED_FAILED,
    EXPECTED_SLOWEST,
    EXPECTED_WAITS,
    T0,
    at,
    fixture_jobs,
    rerun_jobs,
)

if TYPE_CHECKING:
    from mypy_boto3_batch.type_defs import JobDetailTypeDef


def _detail(**fields: Any) -> JobDetailTypeDef:
    return cast("JobDetailTypeDef", {"jobId": "j", "status": "SUCCEEDED", **fields})


def _job(job_id: str, index: int, status: str = "SUCCEEDED", **fields: Any) -> ReportJob:
    return ReportJob(job_id=job_id, index=index, status=status, **fields)


# -- from_detail ------------------------------------------------------------------------------


def test_from_detail_reads_every_field() -> None:
    job = ReportJob.from_detail(
        _detail(
            jobId="abc:3",
            status="FAILED",
            statusReason="OutOfMemoryError",
            createdAt=at(1),
            startedAt=at(2),
            stoppedAt=at(3),
            dependsOn=[{"jobId": "x"}, {"jobId": "y", "type": "N_TO_N"}],
            attempts=[{}, {}],
            arrayProperties={"index": 3},
            container={
                "resourceRequirements": [
                    {"type": "VCPU", "value": "0.25"},
                    {"type": "MEMORY", "value": "512"},
                    {"type": "GPU", "value": "2"},
                ],
                "vcpus": 8,  # resourceRequirements win over the legacy fields
                "memory": 9999,
            },
        ),
        index=7,
        failure="out-of-memory",
        log_tail=["one", "two"],
    )
    assert job == ReportJob(
        job_id="abc:3",
        index=7,
        status="FAILED",
        failure="out-of-memory",
        status_reason="OutOfMemoryError",
        created_at=at(1),
        started_at=at(2),
        stopped_at=at(3),
        depends_on=("x", "y"),
        vcpus=0.25,
        gpus=2,
        memory_mib=512,
        attempts=2,
        array_id="abc",
        log_tail=("one", "two"),
    )
    assert job.finished
    assert job.failed


def test_from_detail_legacy_resources_and_missing_fields() -> None:
    job = ReportJob.from_detail(
        _detail(status="RUNNABLE", createdAt=at(0), container={"vcpus": 2, "memory": 4096}),
        index=0,
        failure=None,
    )
    assert (job.vcpus, job.gpus, job.memory_mib) == (2.0, 0, 4096)
    assert (job.started_at, job.stopped_at, job.status_reason) == (None, None, None)
    assert (job.depends_on, job.attempts, job.array_id, job.log_tail) == ((), 0, None, ())
    assert not job.finished
    assert not job.failed


def test_from_detail_tolerates_nonsense_values() -> None:
    job = ReportJob.from_detail(
        _detail(
            startedAt=0,
            container={
                "resourceRequirements": [
                    {"type": "VCPU", "value": "lots"},
                    {"type": "MEMORY", "value": "nan"},
                ]
            },
            arrayProperties={"size": 5, "statusSummary": {}},  # a parent, not a child
        ),
        index=0,
        failure=None,
    )
    assert (job.vcpus, job.memory_mib, job.started_at, job.array_id) == (0.0, 0, None, None)
    moto_child = ReportJob.from_detail(_detail(jobId="abc:4"), index=0, failure=None)
    assert moto_child.array_id == "abc"  # moto leaves out the child's arrayProperties.index
    odd_id = ReportJob.from_detail(_detail(jobId="abc:x"), index=0, failure=None)
    assert odd_id.array_id is None
    no_container = ReportJob.from_detail(_detail(), index=1, failure=None)
    assert (no_container.vcpus, no_container.gpus, no_container.memory_mib) == (0.0, 0, 0)


# -- the fixture's figures --------------------------------------------------------------------


@pytest.fixture
def report() -> BatchReport:
    return BatchReport.build("batch-1", fixture_jobs(), now_ms=at(500))


def test_fixture_figures_are_exact(report: BatchReport) -> None:
    summary = report.to_json()["summary"]
    assert {key: summary[key] for key in EXPECTED} == EXPECTED
    assert report.finished
    assert summary["undrawn"] == 0
    assert report.vcpu_hours == pytest.approx(404 / 3600)


def test_wait_counts_from_the_last_dependency_including_arrays(report: BatchReport) -> None:
    waits = {t.job.job_id: t.wait_ms for t in report.timings}
    assert waits == EXPECTED_WAITS
    ready = {t.job.job_id: t.ready_at for t in report.timings}
    assert ready["job-d"] == at(70)  # job-a's stop, not job-d's creation
    assert ready["job-f"] == at(45)  # the whole array `arr`: its last child's stop
    assert ready["job-h"] == at(36)  # one child, arr:2
    assert ready["job-b"] == T0  # no dependency: its creation


def test_slowest_and_failed_lists(report: BatchReport) -> None:
    assert [t.job.job_id for t in report.slowest] == EXPECTED_SLOWEST
    assert [t.job.job_id for t in report.failed] == EXPECTED_FAILED
    assert report.failed_not_listed == 0
    short = BatchReport.build("b", fixture_jobs(), now_ms=0, slowest=3, failed_limit=2)
    assert [t.job.job_id for t in short.slowest] == EXPECTED_SLOWEST[:3]
    assert [t.job.job_id for t in short.failed] == EXPECTED_FAILED[:2]
    assert (short.failed_total, short.failed_not_listed) == (4, 2)


def test_jobs_are_ordered_by_index_whatever_the_input_order() -> None:
    jobs = fixture_jobs()
    report = BatchReport.build("b", reversed(jobs), now_ms=0)
    assert [j.index for j in report.jobs] == sorted(j.index for j in jobs)


# -- unfinished batches and odd dependencies --------------------------------------------------


def test_running_batch_counts_up_to_now() -> None:
    now = at(100)
    jobs = [
        _job("done", 0, created_at=at(0), started_at=at(10), stopped_at=at(20), vcpus=1),
        _job("running", 1, "RUNNING", created_at=at(0), started_at=at(40), vcpus=2),
        _job("waiting", 2, "RUNNABLE", created_at=at(5)),
        _job("submitted", 3, "SUBMITTED"),  # no timestamp yet
    ]
    report = BatchReport.build("b", jobs, now_ms=now)
    assert not report.finished
    assert (report.first_created_ms, report.end_ms, report.wall_ms) == (at(0), now, 100_000)
    running = report.timings[1]
    assert (running.run_ms, running.running_now, running.end_at) == (60_000, True, now)
    waiting = report.timings[2]
    assert (waiting.wait_ms, waiting.run_ms, waiting.end_at) == (None, None, now)
    assert report.run_total_ms == 70_000
    assert report.run_median_ms == 35_000.0
    assert report.wait_jobs == 2
    assert report.vcpu_hours == pytest.approx((10 + 2 * 60) / 3600)
    assert report.counts_by_status == {"SUBMITTED": 1, "RUNNABLE": 1, "RUNNING": 1,
                                       "SUCCEEDED": 1}  # fmt: skip
    assert report.undrawn == 1
    assert [t.job.job_id for t in report.slowest] == ["running", "done"]


def test_clock_is_read_when_now_is_not_given() -> None:
    report = BatchReport.build("b", [_job("r", 0, "RUNNING", created_at=at(0))])
    assert report.now_ms > T0
    assert report.end_ms == report.now_ms


def test_finished_batch_without_stop_times_has_no_wall_time() -> None:
    report = BatchReport.build("b", [_job("e", 0, "EXPIRED", failure="expired")], now_ms=at(9))
    assert report.finished
    assert (report.first_created_ms, report.end_ms, report.wall_ms) == (None, None, None)
    assert (report.run_median_ms, report.wait_median_ms, report.wait_p95_ms) == (None,) * 3
    assert report.counts_by_failure == {"expired": 1}
    assert report.undrawn == 1


def test_dependency_on_the_array_parent_job_itself_and_on_own_array() -> None:
    jobs = [
        # the parent is in the list and has stopped: its own stoppedAt counts
        _job("p", 0, created_at=at(0), stopped_at=at(30)),
        _job("p:0", 1, created_at=at(0), started_at=at(1), stopped_at=at(20), array_id="p"),
        _job("after", 2, created_at=at(0), started_at=at(35), stopped_at=at(40),
             depends_on=("p",)),
        # a child naming its own array (or itself) is not made to wait for itself
        _job("q:0", 3, created_at=at(0), started_at=at(2), stopped_at=at(90), array_id="q",
             depends_on=("q", "q:0")),
        # an unknown dependency is ignored, a known one still counts
        _job("x", 4, created_at=at(0), started_at=at(50), stopped_at=at(51),
             depends_on=("not-in-batch", "p:0")),
        # sequential array: q:1 waits for q:0
        _job("q:1", 5, created_at=at(0), started_at=at(95), stopped_at=at(99), array_id="q",
             depends_on=("q:0",)),
    ]  # fmt: skip
    waits = {t.job.job_id: t.wait_ms for t in BatchReport.build("b", jobs, now_ms=0).timings}
    assert waits["after"] == 5_000
    assert waits["q:0"] == 2_000
    assert waits["x"] == 30_000
    assert waits["q:1"] == 5_000


def test_negative_intervals_are_clamped() -> None:
    skewed = _job("s", 0, created_at=at(10), started_at=at(5), stopped_at=at(1))
    (timing,) = BatchReport.build("b", [skewed], now_ms=0).timings
    assert (timing.wait_ms, timing.run_ms) == (0, 0)


def test_failed_without_kind_counts_as_unknown() -> None:
    report = BatchReport.build("b", [_job("f", 0, "FAILED", created_at=at(0))], now_ms=0)
    assert report.counts_by_failure == {"unknown": 1}
    assert report.failed_total == 1


# -- JSON -------------------------------------------------------------------------------------


def test_json_is_serialisable_and_has_the_documented_keys(report: BatchReport) -> None:
    data = json.loads(json.dumps(report.to_json()))
    assert set(data) == {"schema", "summary", "slowest", "failed", "jobs", "earlier"}
    assert data["earlier"] == []
    assert data["schema"] == "pcr-report/1"
    assert data["slowest"] == EXPECTED_SLOWEST
    assert data["failed"] == EXPECTED_FAILED
    assert [j["index"] for j in data["jobs"]] == list(range(11))
    job_c = data["jobs"][2]
    assert job_c == {
        "index": 2,
        "job_id": "job-c",
        "status": "FAILED",
        "failure": "non-zero-exit",
        "status_reason": "Essential container in task exited",
        "created_at": at(1),
        "started_at": at(5),
        "stopped_at": at(25),
        "ready_at": at(1),
        "wait_ms": 4_000,
        "run_ms": 20_000,
        "running_now": False,
        "depends_on": [],
        "array_id": None,
        "vcpus": 1.0,
        "gpus": 0,
        "memory_mib": 2048,
        "attempts": 2,
        "attempt": 1,
        "log_tail": ["Traceback (most recent call last):", "ValueError: bad input"],
    }
    assert data["summary"]["batch_id"] == "batch-1"
    assert data["summary"]["now_ms"] == at(500)


def test_json_lists_every_failed_job_even_past_the_page_cap() -> None:
    jobs = [_job(f"f{i}", i, "FAILED", failure="timeout", created_at=at(i)) for i in range(60)]
    report = BatchReport.build("b", jobs, now_ms=0)
    assert len(report.failed) == 50
    assert report.failed_not_listed == 10
    assert len(report.to_json()["failed"]) == 60


def test_public_names() -> None:
    import pcr_sdk.report

    assert set(pcr_sdk.report.__all__) == {"BatchReport", "JobTiming", "ReportJob", "render_html"}
    assert all(hasattr(pcr_sdk.report, name) for name in pcr_sdk.report.__all__)


# -- reruns -----------------------------------------------------------------------------------


def test_reruns_are_later_attempts_of_the_same_jobs() -> None:
    report = BatchReport.build("r", rerun_jobs(), now_ms=at(100))
    assert [t.job.job_id for t in report.timings] == [
        "ok-0", "rerun-1", "rerun-2", "retried-3", "rerun-4", "ok-5",
    ]  # fmt: skip
    assert [t.job.job_id for t in report.earlier] == ["fail-1", "slow-2", "fail-4"]
    assert [[t.job.attempt for t in row] for row in report.rows] == [
        [1], [1, 2], [1, 2], [1], [1, 2], [1],
    ]  # fmt: skip
    assert report.finished
    assert dict(report.counts_by_status) == {"SUCCEEDED": 5, "FAILED": 1}
    assert dict(report.counts_by_failure) == {"non-zero-exit": 1}
    assert dict(report.earlier_failures) == {"non-zero-exit": 2, "timeout": 1}
    assert (report.reruns, report.jobs_rerun) == (3, 3)
    # AWS Batch's own retries are counted apart from the reruns
    assert (report.attempts, report.retries, report.jobs_retried) == (10, 1, 1)
    assert report.failed_total == 1
    assert [t.job.job_id for t in report.failed] == ["rerun-2"]
    # every attempt ran and was paid for: time and resources count them all
    assert (report.run_total_ms, report.run_jobs) == (62_000, 9)
    assert report.wall_ms == 40_000
    assert report.vcpu_hours == pytest.approx(62 / 3600)
    assert report.slowest[0].job.job_id == "slow-2"
    data = json.loads(json.dumps(report.to_json()))
    assert [j["job_id"] for j in data["earlier"]] == ["fail-1", "slow-2", "fail-4"]
    assert [j["attempt"] for j in data["jobs"]] == [1, 2, 2, 1, 2, 1]
    assert data["summary"]["earlier_failures"] == {"non-zero-exit": 2, "timeout": 1}
    assert (data["summary"]["reruns"], data["summary"]["jobs_rerun"]) == (3, 3)


def test_the_highest_attempt_is_current_whatever_the_input_order() -> None:
    jobs = rerun_jobs()
    shuffled = BatchReport.build("r", list(reversed(jobs)), now_ms=at(100))
    assert shuffled == BatchReport.build("r", jobs, now_ms=at(100))
