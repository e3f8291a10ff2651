"""`LogStore`: the engine's CloudWatch Logs in files, paged as AWS pages them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pcr_sdk.local._logs import LogStore
from pcr_sdk.local._wire import ServiceError


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
