"""What tools read besides jobs: the compute environment behind the queue, and a job log group's
streams and events (DescribeLogStreams, FilterLogEvents), page by page."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conformance import scripts
from tests.conformance.target import LOG_GROUP, Target

pytestmark = pytest.mark.conformance

LINES = 7
"""What the logging job prints: `line 0` ... `line 6`, each followed by a `noise` line."""


def test_the_queues_compute_environment_is_described(target: Target) -> None:
    """Every job queue names its compute environments; DescribeComputeEnvironments shows them,
    asked by ARN (or by name), and all of them asked for none.
    https://docs.aws.amazon.com/batch/latest/APIReference/API_DescribeComputeEnvironments.html"""
    (queue,) = target.batch.describe_job_queues(jobQueues=[target.queue])["jobQueues"]
    arns = [entry["computeEnvironment"] for entry in queue["computeEnvironmentOrder"]]

    described = target.batch.describe_compute_environments(computeEnvironments=arns)
    everything = target.batch.describe_compute_environments()["computeEnvironments"]

    environments = described["computeEnvironments"]
    assert [environment["computeEnvironmentArn"] for environment in environments] == arns
    for environment in environments:
        assert environment["state"] == "ENABLED"
        assert environment["status"] == "VALID"
        by_name = target.batch.describe_compute_environments(
            computeEnvironments=[environment["computeEnvironmentName"]]
        )["computeEnvironments"]
        assert [found["computeEnvironmentArn"] for found in by_name] == [
            environment["computeEnvironmentArn"]
        ]
    assert set(arns) <= {environment["computeEnvironmentArn"] for environment in everything}
    missing = target.batch.describe_compute_environments(
        computeEnvironments=[target.name("no-such-environment")]
    )
    assert missing["computeEnvironments"] == []


@pytest.fixture(scope="module")
def logged(target: Target) -> list[str]:
    """Three finished jobs of one definition that each logged `LINES` lines; their streams."""
    definition = target.definition("logging", target.script(scripts.LINES, str(LINES)))
    job_ids = [target.submit(definition) for _ in range(3)]
    jobs = target.wait(job_ids)
    return [jobs[job_id]["container"]["logStreamName"] for job_id in job_ids]


def test_describe_log_streams_pages_through_a_definitions_streams(
    target: Target, logged: list[str]
) -> None:
    """`logStreamNamePrefix`, `limit` and `nextToken`: every stream once, in name order.
    https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_DescribeLogStreams.html"""
    prefix = f"{target.name('logging')}/"
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        paging: dict[str, Any] = {"nextToken": token} if token else {}
        page = target.logs.describe_log_streams(
            logGroupName=LOG_GROUP, logStreamNamePrefix=prefix, limit=2, **paging
        )
        pages += 1
        seen += [stream["logStreamName"] for stream in page["logStreams"]]
        token = page.get("nextToken")
        if token is None or not page["logStreams"]:
            break

    assert seen == sorted(logged)
    assert pages >= 2
    paginated = target.logs.get_paginator("describe_log_streams").paginate(
        logGroupName=LOG_GROUP,
        orderBy="LastEventTime",
        descending=True,
        PaginationConfig={"PageSize": 1},
    )
    newest_first = [s["logStreamName"] for p in paginated for s in p["logStreams"]]
    assert set(logged) <= set(newest_first)


def test_filter_log_events_finds_the_plain_terms_page_by_page(
    target: Target, logged: list[str]
) -> None:
    """`filterPattern` terms, `limit` and `nextToken`: each matching event once, in order; the
    last page has no token.
    https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html"""
    stream = logged[0]
    messages: list[str] = []
    token: str | None = None
    sizes: list[int] = []
    while True:
        paging: dict[str, Any] = {"nextToken": token} if token else {}
        page = target.logs.filter_log_events(
            logGroupName=LOG_GROUP,
            logStreamNames=[stream],
            filterPattern="line",
            limit=3,
            **paging,
        )
        sizes.append(len(page["events"]))
        messages += [event["message"] for event in page["events"]]
        assert all(event["logStreamName"] == stream for event in page["events"])
        token = page.get("nextToken")
        if token is None:
            break

    assert messages == [f"line {n}" for n in range(LINES)]
    assert sizes[0] == 3
    phrase = target.logs.filter_log_events(
        logGroupName=LOG_GROUP, logStreamNames=[stream], filterPattern='"noise 3"'
    )
    assert [event["message"] for event in phrase["events"]] == ["noise 3"]


def test_filter_log_events_interleaves_streams_in_time_order(
    target: Target, logged: list[str]
) -> None:
    """Events of several streams come interleaved, ordered by time, across pages.
    https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html"""
    pages = target.logs.get_paginator("filter_log_events").paginate(
        logGroupName=LOG_GROUP,
        logStreamNamePrefix=f"{target.name('logging')}/",
        PaginationConfig={"PageSize": 4},
    )
    events = [event for page in pages for event in page["events"]]

    assert len(events) == 3 * 2 * LINES
    stamps = [event["timestamp"] for event in events]
    assert stamps == sorted(stamps)
    for stream in logged:
        mine = [event["message"] for event in events if event["logStreamName"] == stream]
        assert mine[:2] == ["line 0", "noise 0"]
        assert len(mine) == 2 * LINES
    assert len({event["eventId"] for event in events}) == len(events)


@pytest.mark.parametrize("pattern", ["?line ?noise", "-noise", '{ $.level = "error" }', "%li.e%"])
def test_filter_patterns_beyond_plain_terms_are_refused_locally(
    target: Target, logged: list[str], pattern: str
) -> None:
    """pcr-sdk's engine matches plain terms only; any other syntax is refused with
    InvalidParameterException naming what is supported (AWS takes these patterns).
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html"""
    target.only_on("local", "the local backend's Logs; AWS and moto take other pattern syntax")
    with pytest.raises(ClientError) as err:
        target.logs.filter_log_events(
            logGroupName=LOG_GROUP, logStreamNames=logged[:1], filterPattern=pattern
        )

    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "plain terms only" in err.value.response["Error"]["Message"]
