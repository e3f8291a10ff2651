"""`LogStore`: the engine's CloudWatch Logs in files, paged as AWS pages them; its filter
patterns, DescribeLogStreams and FilterLogEvents with an injected clock (`tests/conformance`
checks them over HTTP)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pcr_sdk._private.wire import facts
from pcr_sdk.local import _logs as logs_module
from pcr_sdk.local._logs import LogStore, filter_terms
from pcr_sdk.local._refusals import ServiceError

GROUP = facts.BATCH_LOG_GROUP


@pytest.fixture
def logs(tmp_path: Path) -> Iterator[LogStore]:
    clock = iter(range(1000, 1_000_000))
    store = LogStore(clock_ms=lambda: next(clock), directory=tmp_path / "logs")
    yield store
    store.close()


def _messages(logs: LogStore, **params: Any) -> tuple[list[str], str, str]:
    answer = logs.get_log_events({"logGroupName": "/aws/batch/job", "logStreamName": "s", **params})
    messages = [event["message"] for event in answer["events"]]
    return messages, answer["nextForwardToken"], answer["nextBackwardToken"]


def test_log_events_paging(logs: LogStore, tmp_path: Path) -> None:
    for n in range(5):
        logs.append("s", f"line {n}")

    def page(**params: Any) -> tuple[list[str], str, str]:
        return _messages(logs, **params)

    assert page(limit=2)[0] == ["line 3", "line 4"]
    head, forward, _ = page(limit=2, startFromHead=True)
    assert head == ["line 0", "line 1"]
    middle, forward, _ = page(limit=2, nextToken=forward)
    assert middle == ["line 2", "line 3"]
    last, end, _ = page(limit=2, nextToken=forward)
    assert last == ["line 4"]
    assert page(limit=2, nextToken=end)[:2] == ([], end)  # no news: the same token again
    _, _, backward = page(limit=2)
    assert page(limit=2, nextToken=backward)[0] == ["line 1", "line 2"]
    assert page(startTime=1002, endTime=1004)[0] == ["line 2", "line 3"]
    with pytest.raises(ServiceError, match="log stream"):
        logs.get_log_events({"logGroupName": "/aws/batch/job", "logStreamName": "other"})
    with pytest.raises(ServiceError, match="log group"):
        logs.get_log_events({"logGroupName": "/elsewhere", "logStreamName": "s"})
    assert (tmp_path / "logs" / "s.log").read_text(encoding="utf-8").splitlines()[0] == (
        "1000 line 0"
    )


def test_log_pages_in_both_directions_cover_a_long_stream_exactly(logs: LogStore) -> None:
    """Lines span many 64 KiB blocks; paging forward and backward sees each once, in order."""
    expected = [f"line {n} " + "." * (n % 97) for n in range(6000)]
    for line in expected:
        logs.append("s", line)
    forward: list[str] = []
    page, token, _ = _messages(logs, startFromHead=True, limit=997)
    while page:
        forward += page
        page, token, _ = _messages(logs, nextToken=token, limit=997)
    backward: list[str] = []
    page, _, token = _messages(logs, limit=997)
    while page:
        backward = page + backward
        page, _, token = _messages(logs, nextToken=token, limit=997)
    assert forward == expected
    assert backward == expected


def test_a_log_page_holds_at_most_1_mb_and_a_token_must_start_a_line(logs: LogStore) -> None:
    for n in range(300):
        logs.append("s", f"{n:03d}" + "x" * 9_997)
    tail, forward, backward = _messages(logs)
    assert 90 < len(tail) < 105  # about 1 MB of the newest events
    assert tail[-1].startswith("299")
    assert _messages(logs, nextToken=forward)[0] == []
    assert _messages(logs, nextToken=backward, limit=1)[0][0].startswith(f"{299 - len(tail):03d}")
    with pytest.raises(ServiceError, match="token"):
        _messages(logs, nextToken="f/5")
    with pytest.raises(ServiceError, match="token"):
        _messages(logs, nextToken="elsewhere")


def test_a_message_with_newlines_is_one_event_per_line(logs: LogStore) -> None:
    logs.create_stream("s")
    assert _messages(logs)[0] == []
    logs.append("s", "CannotStartContainerError: no\nsuch file")
    logs.end_stream("s")
    logs.append("s", "after")  # reopens the file
    assert _messages(logs)[0] == ["CannotStartContainerError: no", "such file", "after"]


def test_a_log_store_of_its_own_removes_its_directory_on_close() -> None:
    logs = LogStore(clock_ms=lambda: 1)
    logs.append("a/default/b", "x")
    assert (logs.directory / "a" / "default" / "b.log").is_file()
    logs.close()
    assert not logs.directory.exists()


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
