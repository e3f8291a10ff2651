"""Point 5: ListJobs' filter, order and page sizes, and paging tokens that stay valid."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError

from pcr_sdk._private.wire import facts
from tests.conformance import scripts
from tests.conformance.target import Target

if TYPE_CHECKING:
    from mypy_boto3_batch.type_defs import KeyValuesPairTypeDef, ListJobsResponseTypeDef

pytestmark = [pytest.mark.conformance, pytest.mark.slow]


def _names(value: str) -> list[KeyValuesPairTypeDef]:
    return [{"name": "JOB_NAME", "values": [value]}]


def _by_name(target: Target, value: str) -> list[str]:
    pages = target.batch.get_paginator("list_jobs").paginate(
        jobQueue=target.queue, filters=_names(value)
    )
    return [job["jobId"] for page in pages for job in page["jobSummaryList"]]


def _page(
    target: Target, value: str, max_results: int, token: str | None
) -> ListJobsResponseTypeDef:
    if token is None:
        return target.batch.list_jobs(
            jobQueue=target.queue, filters=_names(value), maxResults=max_results
        )
    return target.batch.list_jobs(
        jobQueue=target.queue, filters=_names(value), maxResults=max_results, nextToken=token
    )


def test_job_name_filter_ignores_case_and_lists_newest_first(target: Target) -> None:
    """JOB_NAME is a case-insensitive match, a trailing `*` matches a prefix; with a filter the
    results are sorted by createdAt, newest first. https://docs.aws.amazon.com/batch/latest/APIReference/API_ListJobs.html"""
    definition = target.definition("named", target.script(scripts.ARGS))
    base = target.name("CaseName")
    ids = [target.submit(definition, name=f"{base}-{i}") for i in range(3)]
    target.wait(ids)

    assert _by_name(target, f"{base}-1".lower()) == [ids[1]]
    listed = target.batch.list_jobs(
        jobQueue=target.queue, filters=[{"name": "JOB_NAME", "values": [f"{base.upper()}-*"]}]
    )["jobSummaryList"]
    assert {job["jobId"] for job in listed} == set(ids)
    created = [job["createdAt"] for job in listed]
    assert created == sorted(created, reverse=True)
    if target.local:  # AWS may give two jobs the same createdAt millisecond
        assert [job["jobId"] for job in listed] == ids[::-1]


def test_one_filter_at_a_time(target: Target) -> None:
    """ "Only one filter can be used at a time." https://docs.aws.amazon.com/batch/latest/APIReference/API_ListJobs.html"""
    with pytest.raises(ClientError) as err:
        target.batch.list_jobs(
            jobQueue=target.queue,
            filters=[
                {"name": "JOB_NAME", "values": ["a"]},
                {"name": "JOB_DEFINITION", "values": ["b"]},
            ],
        )
    assert err.value.response["Error"]["Code"] == "ClientException"
    with pytest.raises(ClientError) as too_few:
        target.batch.list_jobs(jobQueue=target.queue, maxResults=0)
    assert too_few.value.response["Error"]["Code"] == "ClientException"


@pytest.fixture
def pending_jobs(target: Target) -> Iterator[tuple[str, list[str], str]]:
    """101 PENDING jobs named `<base>-<i>`, held by a dependency (the third item) that can never
    run: it blocks the queue's head until the fixture cancels it, which fails them all."""
    blocker_definition = target.definition(
        "blocker", target.script(scripts.ARGS), memory=str(facts.MAX_MEMORY_MIB)
    )
    blocker = target.submit(blocker_definition)
    definition = target.definition("paged", target.script(scripts.ARGS))
    base = target.name("paged")
    ids: list[str] = []
    try:
        ids += [
            target.submit(definition, name=f"{base}-{i}", depends_on=[blocker]) for i in range(101)
        ]
        # Jobs move on in submission order; a MotoWorld's only when described (by design: its
        # stepping scheduler moves a job one step per DescribeJobs that includes it)
        target.wait(ids if target.kind == "moto" else ids[-1:], statuses={"PENDING"})
        yield base, ids, blocker
    finally:
        target.batch.cancel_job(jobId=blocker, reason="paging done")
        target.wait([blocker, *ids[-1:]])


def test_pages_hold_up_to_100_filtered_and_up_to_1000_by_status(
    target: Target, pending_jobs: tuple[str, list[str], str]
) -> None:
    """ "When --filters is used, Batch returns up to 100 values"; with --job-status up to 1000.
    https://docs.aws.amazon.com/batch/latest/APIReference/API_ListJobs.html"""
    base, ids, _ = pending_jobs
    first = _page(target, f"{base}-*", 1000, None)
    assert len(first["jobSummaryList"]) == 100
    second = _page(target, f"{base}-*", 1000, first["nextToken"])
    assert [job["jobId"] for job in second["jobSummaryList"]] == [ids[0]]  # the oldest, last
    assert "nextToken" not in second
    by_status = target.batch.list_jobs(jobQueue=target.queue, jobStatus="PENDING", maxResults=1000)
    assert set(ids) <= {job["jobId"] for job in by_status["jobSummaryList"]}


def test_paging_tokens_survive_jobs_submitted_between_pages(
    target: Target, pending_jobs: tuple[str, list[str], str]
) -> None:
    """Paging continues "from the end of the previous results": new jobs between two pages
    neither repeat nor hide a listed one. https://docs.aws.amazon.com/batch/latest/APIReference/API_ListJobs.html"""
    base, ids, blocker = pending_jobs
    definition = target.definition("late", target.script(scripts.ARGS))
    seen: list[str] = []
    late: list[str] = []
    token: str | None = None
    while True:
        page = _page(target, f"{base}-*", 25, token)
        seen += [job["jobId"] for job in page["jobSummaryList"]]
        late.append(
            target.submit(definition, name=f"{base}-late-{len(late)}", depends_on=[blocker])
        )
        token = page.get("nextToken")
        if token is None:
            break

    original = [job_id for job_id in seen if job_id in set(ids)]
    assert original == ids[::-1]
    assert len(seen) == len(set(seen))
