"""ListJobs and DescribeJobDefinitions on the engine: AWS's filters, paging and refusals."""

from __future__ import annotations

import pytest

from pcr_sdk.local._engine import BatchEngine
from pcr_sdk.local._refusals import ServiceError
from tests.support.local import ScriptedPrograms, register, stepping_engine, submit_to


def test_list_jobs_refuses_what_aws_refuses(engine: BatchEngine) -> None:
    for params in (
        {"jobQueue": "q", "filters": [{"name": "job_name", "values": ["x"]}]},  # case sensitive
        {"jobQueue": "q", "filters": [{"name": "JOB_NAME", "values": ["a"]}] * 2},
        {"jobQueue": "q", "maxResults": 0},
        {"jobQueue": "q", "nextToken": "not-a-token"},
        {"jobQueue": "q", "jobStatus": "EXPIRED"},  # pcr-sdk's own status, not AWS's
    ):
        with pytest.raises(ServiceError) as err:
            engine.list_jobs(params)
        assert err.value.code == "ClientException", params
    many = engine.list_jobs({"jobQueue": "q", "jobStatus": "RUNNING", "maxResults": 5000})
    assert many == {"jobSummaryList": []}  # above 1000: a full page, not an error


def test_list_jobs_by_status_oldest_first_and_by_name_newest_first_a_page_at_a_time() -> None:
    engine, _, _ = stepping_engine(ScriptedPrograms(polls=100))
    definition = register(engine)
    ids = [submit_to(engine, definition, jobName=name) for name in ("b_1", "b_1", "B_10", "c")]
    listed = engine.list_jobs({"jobQueue": "q", "jobStatus": "SUBMITTED", "maxResults": 3})
    assert [s["jobId"] for s in listed["jobSummaryList"]] == ids[:3]
    rest = engine.list_jobs({"jobQueue": "q", "jobStatus": "SUBMITTED",
                             "nextToken": listed["nextToken"]})  # fmt: skip
    assert [s["jobId"] for s in rest["jobSummaryList"]] == ids[3:]
    assert "nextToken" not in rest
    named = engine.list_jobs(
        {"jobQueue": "q", "filters": [{"name": "JOB_NAME", "values": ["b_1*"]}]}
    )
    assert [s["jobId"] for s in named["jobSummaryList"]] == ids[2::-1]  # case-insensitive prefix
    exact = engine.list_jobs(
        {"jobQueue": "q", "filters": [{"name": "JOB_NAME", "values": ["b_1"]}]}
    )
    assert [s["jobId"] for s in exact["jobSummaryList"]] == ids[1::-1]
    assert engine.list_jobs({"jobQueue": "q"}) == {"jobSummaryList": []}  # RUNNING by default
