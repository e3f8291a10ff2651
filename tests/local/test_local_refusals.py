"""The one table of what the engine refuses (`_refusals`), and the Logs reads it serves.

The table is the only place the engine makes an error answer, and every row is used
(`tests/test_docs_reference.py` checks that the docs page lists every row). The CloudWatch Logs
reads (DescribeLogStreams, FilterLogEvents) are checked here on a `LogStore` alone, with an
injected clock; `tests/conformance` checks them over HTTP.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pcr_sdk._private.wire import facts
from pcr_sdk.local import LocalBackend
from pcr_sdk.local import _logs as logs_module
from pcr_sdk.local._logs import LogStore, filter_terms
from pcr_sdk.local._refusals import CHECKS, ServiceError

LOCAL = Path(__file__).resolve().parents[2] / "pcr_sdk" / "local"
GROUP = facts.BATCH_LOG_GROUP


def _engine_sources() -> dict[str, str]:
    return {
        path.name: path.read_text(encoding="utf-8")
        for path in sorted(LOCAL.glob("*.py"))
        if path.name != "_refusals.py"
    }


def test_every_check_is_used_by_the_engine() -> None:
    text = "\n".join(_engine_sources().values())
    unused = [name for name in CHECKS if not re.search(rf"\brefusal\.{name}\b", text)]
    assert unused == []


def test_the_engine_answers_errors_only_through_the_table() -> None:
    """No module of the engine builds an error answer of its own (the gateway's signature and
    transport refusals are HTTP answers, not Batch or Logs checks)."""
    for name, text in _engine_sources().items():
        assert "ServiceError(" not in text, name
        assert "client_exception" not in text, name


@pytest.mark.parametrize("name", list(CHECKS))
def test_every_check_has_a_source_a_code_and_a_well_formed_message(name: str) -> None:
    check = CHECKS[name]
    assert check.source is None or check.source.startswith("https://docs.aws.amazon.com/"), name
    assert check.seen is None or check.seen.startswith("https://github.com/"), name
    assert check.code in {
        "ClientException",
        "InvalidParameterException",
        "ResourceNotFoundException",
        "SerializationException",
        "InvalidOperationException",
        "UnknownOperationException",
    }
    fields = {field for _, field, _, _ in string.Formatter().parse(check.message) if field}
    assert check.refuse(**dict.fromkeys(fields, "x")).code == check.code
    assert check.operations
    assert check.refused


def test_in_process_clients_are_refused_alike(tmp_path: Path) -> None:
    """`backend.clients` answers in-process, without the socket's body cap: a 1 MB tag value
    still gets AWS's refusal from the engine."""
    with LocalBackend(["true"], cwd=tmp_path) as local:
        batch = local.clients.batch
        with pytest.raises(ClientError) as err:
            batch.register_job_definition(
                jobDefinitionName="big-tag",
                type="container",
                containerProperties={"image": "i", "vcpus": 1, "memory": 16},
                tags={"big": "v" * 1_000_000},
            )
        assert err.value.response["Error"]["Code"] == "ClientException"
        assert "Job definition size must be less than 24 KiB" in str(err.value)
        arn = batch.register_job_definition(
            jobDefinitionName="tagged",
            type="container",
            containerProperties={"image": "i", "vcpus": 1, "memory": 16},
        )["jobDefinitionArn"]
        for tags, wording in [
            ({"big": "v" * 1_000_000}, "a tag value is at most 256 characters"),
            ({"aws:mine": "x"}, "reserved for AWS use"),
            ({f"k{n}": "v" for n in range(facts.MAX_TAGS + 1)}, "at most 50 tags"),
        ]:
            with pytest.raises(ClientError, match=wording):
                batch.tag_resource(resourceArn=arn, tags=tags)
        assert batch.list_tags_for_resource(resourceArn=arn)["tags"] == {}


# -- filter patterns ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "terms"),
    [
        (None, []),
        ("", []),
        ("  ", []),
        ("ERROR", ["ERROR"]),
        ("ERROR  timeout_1", ["ERROR", "timeout_1"]),
        ('"Task failed" ERROR', ["Task failed", "ERROR"]),
        ('"a ? - [x]"', ["a ? - [x]"]),
        ('""', [""]),
    ],
)
def test_plain_terms_are_words_and_quoted_phrases(pattern: str | None, terms: list[str]) -> None:
    assert filter_terms(pattern) == terms


@pytest.mark.parametrize(
    "pattern",
    [
        "?ERROR ?WARN",
        "-DEBUG",
        "ERROR -DEBUG",
        '{ $.level = "error" }',
        "[ip, user, ...]",
        "%ERR.R%",
        "ERR*",
        "a.b",
        '"unterminated',
        'ERROR"x"',
    ],
)
def test_other_pattern_syntax_is_refused_naming_what_is_supported(pattern: str) -> None:
    with pytest.raises(ServiceError) as err:
        filter_terms(pattern)
    assert err.value.code == "InvalidParameterException"
    assert "plain terms only" in err.value.message
    assert "is not a plain term" in err.value.message


# -- DescribeLogStreams and FilterLogEvents on a LogStore ---------------------------------------


class _Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock() -> _Clock:
    return _Clock(1_000)


@pytest.fixture
def store(tmp_path: Path, clock: _Clock) -> Iterator[LogStore]:
    found = LogStore(clock_ms=clock, directory=tmp_path / "logs")
    yield found
    found.close()


def _filter(store: LogStore, **params: Any) -> dict[str, Any]:
    return store.filter_log_events({"logGroupName": GROUP, **params})


def _all_pages(store: LogStore, **params: Any) -> tuple[list[tuple[int, str, str]], int]:
    found: list[tuple[int, str, str]] = []
    pages = 0
    token: str | None = None
    while True:
        page = _filter(store, **params, **({"nextToken": token} if token else {}))
        pages += 1
        found += [(e["timestamp"], e["logStreamName"], e["message"]) for e in page["events"]]
        token = page.get("nextToken")
        if token is None:
            return found, pages


def test_filter_log_events_interleaves_by_time_and_pages_exactly(
    store: LogStore, clock: _Clock
) -> None:
    expected = []
    for step in range(30):
        clock.now = 1_000 + step // 3  # three events share each millisecond
        stream = f"def/default/{'abc'[step % 3]}"
        store.append(stream, f"event {step}")
        expected.append((clock.now, stream, f"event {step}"))
    expected.sort()

    for limit in (1, 2, 7, 30, 10_000):
        found, pages = _all_pages(store, limit=limit)
        assert found == expected, limit
        assert pages == max(1, -(-len(expected) // limit)), limit
    assert _all_pages(store, startTime=1_005, endTime=1_006)[0] == [
        event for event in expected if 1_005 <= event[0] <= 1_006
    ]
    only_b = _all_pages(store, logStreamNames=["def/default/b", "nope"], limit=4)[0]
    assert only_b == [event for event in expected if event[1] == "def/default/b"]
    assert _all_pages(store, logStreamNamePrefix="other")[0] == []
    assert _all_pages(store, filterPattern='event "1"', limit=3)[0] == [
        event for event in expected if "1" in event[2]
    ]


def test_a_filter_token_stays_valid_while_jobs_write(store: LogStore, clock: _Clock) -> None:
    for n in range(3):
        store.append("s/default/a", f"early {n}")
    first = _filter(store, limit=2)
    clock.now += 5
    store.append("s/default/a", "late a")
    store.append("s/default/b", "late b")

    rest = _filter(store, nextToken=first["nextToken"])

    assert [e["message"] for e in first["events"]] == ["early 0", "early 1"]
    assert [e["message"] for e in rest["events"]] == ["early 2", "late a", "late b"]
    assert "nextToken" not in rest


def test_a_streams_timestamps_never_go_back(store: LogStore, clock: _Clock) -> None:
    clock.now = 5_000
    store.append("s", "first")
    clock.now = 4_000  # the wall clock stepped back
    store.append("s", "second")

    events = _filter(store)["events"]

    assert [(e["timestamp"], e["message"]) for e in events] == [(5_000, "first"), (5_000, "second")]


def test_filter_finds_the_start_of_a_long_stream_by_time(store: LogStore, clock: _Clock) -> None:
    """A stream over many read blocks: startTime and tokens land on the right line."""
    for n in range(20_000):
        clock.now = 1_000 + n // 10
        store.append("long", f"line {n} " + "." * (n % 50))

    for start in (1_000, 1_001, 1_500, 2_999, 3_000):
        page = _filter(store, startTime=start, limit=3)
        first = (start - 1_000) * 10
        assert [e["message"].split()[1] for e in page["events"]] == [
            str(n) for n in range(first, min(first + 3, 20_000))
        ], start
    assert _filter(store, startTime=10_000)["events"] == []


def test_filter_log_events_refuses_what_aws_refuses(store: LogStore) -> None:
    store.append("s", "x")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"logStreamNames": ["s"], "logStreamNamePrefix": "s"}, "cannot both be given"),
        ({"logStreamNames": []}, "1 to 100 names"),
        ({"logStreamNames": [f"s{n}" for n in range(101)]}, "1 to 100 names"),
        ({"limit": 0}, "limit must be 1..10000"),
        ({"limit": 10_001}, "limit must be 1..10000"),
        ({"nextToken": "f/0"}, "next token"),
        ({"nextToken": "pcr-logs/bm90IGpzb24="}, "next token"),
        ({"filterPattern": "?x"}, "plain terms only"),
    ]
    for params, wording in cases:
        with pytest.raises(ServiceError, match=re.escape(wording)) as err:
            _filter(store, **params)
        assert err.value.code == "InvalidParameterException", params


def test_describe_log_streams_orders_and_pages(store: LogStore, clock: _Clock) -> None:
    for n, name in enumerate(["c", "a", "d", "b"]):
        clock.now = 1_000 + n
        store.create_stream(name)
    clock.now = 2_000
    store.append("d", "x")
    clock.now = 3_000
    store.append("a", "y")

    def names(**params: Any) -> list[str]:
        found: list[str] = []
        token: str | None = None
        while True:
            page = store.describe_log_streams(
                {
                    "logGroupName": GROUP,
                    "limit": 1,
                    **params,
                    **({"nextToken": token} if token else {}),
                }
            )
            found += [stream["logStreamName"] for stream in page["logStreams"]]
            token = page.get("nextToken")
            if token is None:
                return found

    assert names() == ["a", "b", "c", "d"]
    assert names(descending=True) == ["d", "c", "b", "a"]
    assert names(logStreamNamePrefix="b") == ["b"]
    assert names(orderBy="LastEventTime", descending=True)[:2] == ["a", "d"]
    (entry,) = store.describe_log_streams({"logGroupName": GROUP, "logStreamNamePrefix": "a"})[
        "logStreams"
    ]
    assert entry == {
        "logStreamName": "a",
        "creationTime": 1_001,
        "firstEventTimestamp": 3_000,
        "lastEventTimestamp": 3_000,
        "lastIngestionTime": 3_000,
    }
    with pytest.raises(ServiceError, match="Cannot order by LastEventTime"):
        store.describe_log_streams(
            {"logGroupName": GROUP, "orderBy": "LastEventTime", "logStreamNamePrefix": "a"}
        )
    token = store.describe_log_streams({"logGroupName": GROUP, "limit": 1})["nextToken"]
    with pytest.raises(ServiceError, match="next token"):  # a token of another ordering
        store.describe_log_streams({"logGroupName": GROUP, "nextToken": token, "descending": True})


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"logGroupName": GROUP, "logGroupIdentifier": GROUP}, "InvalidParameterException"),
        ({}, "InvalidParameterException"),
        ({"logGroupName": "/elsewhere"}, "ResourceNotFoundException"),
        ({"logGroupIdentifier": f"arn:aws:logs:us-east-1:1:log-group:{GROUP}:*"}, None),
        ({"logGroupName": GROUP, "limit": 0}, "InvalidParameterException"),
    ],
)
def test_every_log_read_takes_exactly_one_log_group(
    store: LogStore, params: dict[str, Any], code: str | None
) -> None:
    store.append("s", "x")
    reads: list[tuple[Callable[[dict[str, Any]], object], dict[str, Any]]] = [
        (store.get_log_events, {"logStreamName": "s", **params}),
        (store.describe_log_streams, dict(params)),
        (store.filter_log_events, dict(params)),
    ]
    for read, request in reads:
        if code is None:
            read(request)
            continue
        with pytest.raises(ServiceError) as err:
            read(request)
        assert err.value.code == code


def test_the_store_serves_the_three_reads(store: LogStore) -> None:
    assert sorted(store.operations()) == ["DescribeLogStreams", "FilterLogEvents", "GetLogEvents"]
    assert logs_module.LOG_GROUP == GROUP
