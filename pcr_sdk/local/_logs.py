"""The captured output of job attempts, served as CloudWatch Logs group `/aws/batch/job`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Final

from pcr_sdk.local._wire import JsonObject, ServiceError

LOG_GROUP: Final = "/aws/batch/job"
_MAX_LIMIT: Final = 10_000


def _not_found(what: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", f"The specified {what} does not exist.")


def _token(text: str, kind: str) -> int:
    prefix, _, number = text.partition("/")
    if prefix != kind or not number.isdigit():
        raise ServiceError("InvalidParameterException", f"the next token {text!r} is invalid")
    return int(number)


class LogStore:
    """Log streams of group `/aws/batch/job`: one per job attempt, one event per output line."""

    def __init__(self, clock_ms: Callable[[], int]) -> None:
        self._clock_ms = clock_ms
        self._lock = threading.Lock()
        self._streams: dict[str, list[tuple[int, int, str]]] = {}

    def create_stream(self, name: str) -> None:
        with self._lock:
            self._streams.setdefault(name, [])

    def append(self, stream: str, message: str) -> None:
        now = self._clock_ms()
        with self._lock:
            self._streams.setdefault(stream, []).append((now, now, message))

    def messages(self, stream: str) -> list[str]:
        """Every line of `stream` (empty for an unknown stream)."""
        with self._lock:
            return [message for _, _, message in self._streams.get(stream, [])]

    def get_log_events(self, params: JsonObject) -> JsonObject:
        """The GetLogEvents operation, with its forward/backward token semantics."""
        group = str(params.get("logGroupName") or params.get("logGroupIdentifier") or "")
        if group.rsplit(":log-group:", 1)[-1].removesuffix(":*") != LOG_GROUP:
            raise _not_found("log group")
        name = params.get("logStreamName")
        limit = int(params.get("limit") or _MAX_LIMIT)
        if not 1 <= limit <= _MAX_LIMIT:
            raise ServiceError("InvalidParameterException", f"limit must be 1..{_MAX_LIMIT}")
        start_time = params.get("startTime")
        end_time = params.get("endTime")
        with self._lock:
            if name not in self._streams:
                raise _not_found("log stream")
            events = [
                event
                for event in self._streams[str(name)]
                if (start_time is None or event[0] >= int(start_time))
                and (end_time is None or event[0] < int(end_time))
            ]
        token = params.get("nextToken")
        if token is None:
            if params.get("startFromHead"):
                first, last = 0, min(limit, len(events))
            else:
                first, last = max(0, len(events) - limit), len(events)
        elif str(token).startswith("f/"):
            first = min(_token(str(token), "f"), len(events))
            last = min(first + limit, len(events))
        else:
            last = min(_token(str(token), "b"), len(events))
            first = max(0, last - limit)
        page: list[dict[str, Any]] = [
            {"timestamp": ts, "ingestionTime": ingested, "message": message}
            for ts, ingested, message in events[first:last]
        ]
        return {"events": page, "nextForwardToken": f"f/{last}", "nextBackwardToken": f"b/{first}"}
