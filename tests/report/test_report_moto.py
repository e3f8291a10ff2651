"""`ReportJob.from_detail` on DescribeJobs entries as `pcr_sdk.testing.MotoWorld` really returns
them: a plain job, a failed one, a dependent one and an array."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pcr_sdk.report import BatchReport, ReportJob, render_html
from pcr_sdk.testing import MotoWorld

if TYPE_CHECKING:
    from mypy_boto3_batch.type_defs import JobDetailTypeDef

pytestmark = pytest.mark.integration  # every test here runs on a MotoWorld

pytest_plugins = ["pcr_sdk.testing.fixtures"]


def _describe(world: MotoWorld, job_ids: list[str]) -> list[JobDetailTypeDef]:
    return world.clients.batch.describe_jobs(jobs=job_ids)["jobs"]


def test_moto_job_details_build_a_report(moto_world: MotoWorld) -> None:
    batch = moto_world.clients.batch
    definition = moto_world.register_job_definition()
    moto_world.script.fail_where(lambda view: view.job_name == "second", exit_code=3)

    queue = moto_world.queue
    first = batch.submit_job(jobName="first", jobQueue=queue, jobDefinition=definition)["jobId"]
    second = batch.submit_job(jobName="second", jobQueue=queue, jobDefinition=definition)["jobId"]
    after = batch.submit_job(
        jobName="after", jobQueue=queue, jobDefinition=definition, dependsOn=[{"jobId": first}]
    )["jobId"]
    array = batch.submit_job(
        jobName="array", jobQueue=queue, jobDefinition=definition, arrayProperties={"size": 2}
    )["jobId"]
    ids = [first, second, after, f"{array}:0", f"{array}:1"]
    details: list[JobDetailTypeDef] = []
    for _ in range(20):  # each describe moves unfinished jobs one step on
        details = _describe(moto_world, ids)
        if all(d["status"] in ("SUCCEEDED", "FAILED") for d in details):
            break
    by_id = {d["jobId"]: d for d in details}
    assert set(by_id) == set(ids)

    jobs = [
        ReportJob.from_detail(
            by_id[job_id],
            index=i,
            failure="non-zero-exit" if by_id[job_id]["status"] == "FAILED" else None,
        )
        for i, job_id in enumerate(ids)
    ]
    assert [j.status for j in jobs[:3]] == ["SUCCEEDED", "FAILED", "SUCCEEDED"]
    assert all(j.vcpus == 1.0 for j in jobs)
    assert all(j.memory_mib == 512 for j in jobs)
    assert jobs[2].depends_on == (first,)
    assert [j.array_id for j in jobs] == [None, None, None, array, array]
    assert all(j.created_at is not None for j in jobs)

    report = BatchReport.build("moto", jobs)
    assert report.finished
    assert report.counts_by_status == {"SUCCEEDED": 4, "FAILED": 1}
    assert report.failed_total == 1
    assert render_html(report).count('class="bar job') == sum(
        1 for j in jobs if j.created_at or j.started_at or j.stopped_at
    )
