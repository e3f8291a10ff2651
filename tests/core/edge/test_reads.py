"""`BatchReads`: DescribeJobs 100 ids a call and ListJobs a page at a time, each request
admitted by the governor first (botocore's `Stubber` answers; nothing is sent)."""

from __future__ import annotations

from typing import Any

from botocore.stub import Stubber

from pcr_sdk._private.edge.reads import BatchReads
from tests.support.fakes import NoCalls


def detail(job_id: str) -> dict[str, Any]:
    return {"jobId": job_id, "jobName": "b_1", "jobQueue": "q", "status": "RUNNING",
            "startedAt": 1, "jobDefinition": "d"}  # fmt: skip


def summary(job_id: str, name: str = "b_1") -> dict[str, Any]:
    return {"jobId": job_id, "jobName": name}


def test_describe_asks_for_each_id_once_at_most_100_a_call_each_call_admitted() -> None:
    batch = NoCalls().clients.batch
    admitted: list[int] = []
    reads = BatchReads(batch, acquire=lambda: admitted.append(1))
    ids = [f"j{i}" for i in range(150)]
    with Stubber(batch) as stubbed:
        stubbed.add_response("describe_jobs", {"jobs": [detail(i) for i in ids[:100]]},
                             {"jobs": ids[:100]})  # fmt: skip
        stubbed.add_response(
            "describe_jobs", {"jobs": [detail(i) for i in ids[100:149]]}, {"jobs": ids[100:]}
        )  # j149: AWS does not know it
        found = reads.describe(ids + ids[:10])  # repeated ids asked once
        stubbed.assert_no_pending_responses()
    assert [d["jobId"] for d in found] == ids[:149]
    assert len(admitted) == 2


def test_named_reads_a_page_at_a_time_and_leaves_array_children_to_their_parent() -> None:
    batch = NoCalls().clients.batch
    admitted: list[int] = []
    reads = BatchReads(batch, acquire=lambda: admitted.append(1))
    filters = [{"name": "JOB_NAME", "values": ["b_1"]}]
    with Stubber(batch) as stubbed:
        stubbed.add_response(
            "list_jobs",
            {"jobSummaryList": [summary("new"), summary("arr:0"), summary("x", "b_10")],
             "nextToken": "t"},
            {"jobQueue": "q", "filters": filters},
        )  # fmt: skip
        stubbed.add_response("describe_jobs", {"jobs": [detail("new")]}, {"jobs": ["new"]})
        stubbed.add_response("list_jobs", {"jobSummaryList": [summary("old")]},
                             {"jobQueue": "q", "filters": filters, "nextToken": "t"})  # fmt: skip
        stubbed.add_response("describe_jobs", {"jobs": [detail("old")]}, {"jobs": ["old"]})
        pages = reads.named("q", "b_1")
        assert [d["jobId"] for d in next(pages)] == ["new"]  # a caller may stop here
        assert len(admitted) == 2  # one page, one describe: nothing read ahead
        assert [d["jobId"] for d in next(pages)] == ["old"]
        assert next(pages, None) is None
        stubbed.assert_no_pending_responses()
