"""The captured output of job attempts, served as CloudWatch Logs group `/aws/batch/job`.

Every stream is a file under the store's directory (`<stream name>.log`, one event per line:
`<epoch ms> <message>`), appended to as the job prints and read back by GetLogEvents from
there: memory stays flat however much a job prints. Paging tokens are byte offsets into the
file (`f/<offset>` forward, `b/<offset>` backward), so they stay valid while a job writes.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, Final

from pcr_sdk.local._wire import JsonObject, ServiceError

LOG_GROUP: Final = "/aws/batch/job"
_MAX_LIMIT: Final = 10_000
_MAX_RESPONSE_BYTES: Final = 1_048_576
"""GetLogEvents answers with at most 1 MB of events, as AWS does."""
_EVENT_OVERHEAD: Final = 26
_CHUNK: Final = 64 * 1024
_SAFE_PART: Final = re.compile(r"[A-Za-z0-9_.-]+")
_TOKEN: Final = re.compile(r"([fb])/([0-9]{1,19})")
"""A paging token: direction and byte offset (an offset fits a 64-bit file position)."""

Event = tuple[int, str]


def _not_found(what: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", f"The specified {what} does not exist.")


def _invalid_token(text: str) -> ServiceError:
    return ServiceError("InvalidParameterException", f"the next token {text!r} is invalid")


def _relative_path(name: str) -> Path:
    """Where stream `name` lives below the directory: its `/`-separated parts, made safe."""
    parts = [
        part if _SAFE_PART.fullmatch(part) and part not in (".", "..") else part.encode().hex()
        for part in name.split("/")
    ]
    parts[-1] += ".log"
    return Path(*parts)


def _parse(raw: bytes) -> Event:
    stamp, _, message = raw.rstrip(b"\n").partition(b" ")
    return int(stamp), message.decode("utf-8", errors="replace")


class _Stream:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.writer: IO[bytes] | None = None
        self.size = 0


class LogStore:
    """Log streams of group `/aws/batch/job`: one file per job attempt, one event per line.

    `directory` holds the files; without one they go to a temporary directory that `close`
    (or the garbage collector) removes.
    """

    def __init__(
        self, clock_ms: Callable[[], int], directory: str | os.PathLike[str] | None = None
    ) -> None:
        self._clock_ms = clock_ms
        self._lock = threading.Lock()
        self._streams: dict[str, _Stream] = {}
        if directory is None:
            self.directory = Path(tempfile.mkdtemp(prefix="pcr-local-logs-"))
        else:
            self.directory = Path(directory)
            self.directory.mkdir(parents=True, exist_ok=True)
        self._close = weakref.finalize(
            self, _close, self._lock, self._streams, self.directory if directory is None else None
        )

    def create_stream(self, name: str) -> None:
        """Create stream `name` (empty) if it does not exist."""
        self._stream(name)

    def _stream(self, name: str) -> _Stream:
        with self._lock:
            found = self._streams.get(name)
            if found is None:
                path = self.directory / _relative_path(name)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch()
                found = self._streams[name] = _Stream(path)
            return found

    def append(self, stream: str, message: str) -> None:
        """Add one event per line of `message`, stamped now."""
        now = self._clock_ms()
        target = self._stream(stream)
        data = b"".join(f"{now} {line}\n".encode(errors="replace") for line in message.split("\n"))
        with target.lock:
            if target.writer is None:
                target.writer = target.path.open("ab", buffering=_CHUNK)
            target.writer.write(data)
            target.size += len(data)

    def end_stream(self, name: str) -> None:
        """The attempt's output ended: close the stream's file (a later append reopens it)."""
        with self._lock:
            found = self._streams.get(name)
        if found is not None:
            with found.lock:
                writer, found.writer = found.writer, None
                if writer is not None:
                    writer.close()

    def close(self) -> None:
        """Close every file; remove the directory if the store made it (idempotent)."""
        self._close()

    def get_log_events(self, params: JsonObject) -> JsonObject:
        """The GetLogEvents operation, with its forward/backward token semantics."""
        group = str(params.get("logGroupName") or params.get("logGroupIdentifier") or "")
        if group.rsplit(":log-group:", 1)[-1].removesuffix(":*") != LOG_GROUP:
            raise _not_found("log group")
        name = str(params.get("logStreamName"))
        limit = int(params.get("limit") or _MAX_LIMIT)
        if not 1 <= limit <= _MAX_LIMIT:
            raise ServiceError("InvalidParameterException", f"limit must be 1..{_MAX_LIMIT}")
        start_time = params.get("startTime")
        end_time = params.get("endTime")

        def wanted(event: Event) -> bool:
            return (start_time is None or event[0] >= int(start_time)) and (
                end_time is None or event[0] < int(end_time)
            )

        with self._lock:
            stream = self._streams.get(name)
        if stream is None:
            raise _not_found("log stream")
        with stream.lock:
            if stream.writer is not None:
                stream.writer.flush()
            size = stream.size  # a line boundary: whole lines are written, all flushed
        token = params.get("nextToken")
        with stream.path.open("rb") as file:
            if token is None:
                if params.get("startFromHead"):
                    first = 0
                    events, last = _forward(file, first, size, limit, wanted)
                else:
                    last = size
                    events, first = _backward(file, last, limit, wanted)
            else:
                kind, offset = _offset(file, str(token), size)
                if kind == "f":
                    first = offset
                    events, last = _forward(file, first, size, limit, wanted)
                else:
                    last = offset
                    events, first = _backward(file, last, limit, wanted)
        page: list[dict[str, Any]] = [
            {"timestamp": stamp, "ingestionTime": stamp, "message": message}
            for stamp, message in events
        ]
        return {"events": page, "nextForwardToken": f"f/{last}", "nextBackwardToken": f"b/{first}"}


def _close(lock: threading.Lock, streams: dict[str, _Stream], remove: Path | None) -> None:
    """Close the streams' files, then remove `remove` (also run if the store is collected)."""
    with lock:
        found = list(streams.values())
    for stream in found:
        with stream.lock:
            writer, stream.writer = stream.writer, None
            if writer is not None:
                writer.close()
    if remove is not None:
        shutil.rmtree(remove, ignore_errors=True)


def _offset(file: IO[bytes], token: str, size: int) -> tuple[str, int]:
    """A token's direction and byte offset, which must be the start of a line."""
    found = _TOKEN.fullmatch(token)
    if found is None:
        raise _invalid_token(token)
    kind = found.group(1)
    offset = min(int(found.group(2)), size)
    if offset > 0:
        file.seek(offset - 1)
        if file.read(1) != b"\n":
            raise _invalid_token(token)
    return kind, offset


def _forward(
    file: IO[bytes], start: int, size: int, limit: int, wanted: Callable[[Event], bool]
) -> tuple[list[Event], int]:
    """Events from byte `start` on (up to `limit` and 1 MB); the offset after the last read."""
    events: list[Event] = []
    budget = _MAX_RESPONSE_BYTES
    position = start
    file.seek(start)
    while position < size and len(events) < limit:
        raw = file.readline(size - position)
        if not raw:  # pragma: no cover - the file never shrinks
            break
        event = _parse(raw)
        if wanted(event):
            cost = len(raw) + _EVENT_OVERHEAD
            if events and cost > budget:
                break
            budget -= cost
            events.append(event)
        position += len(raw)
    return events, position


def _backward(
    file: IO[bytes], end: int, limit: int, wanted: Callable[[Event], bool]
) -> tuple[list[Event], int]:
    """Events before byte `end` (the last `limit`, up to 1 MB), oldest first; the first's offset."""
    events: list[Event] = []
    budget = _MAX_RESPONSE_BYTES
    position = end
    for offset, raw in _lines_backward(file, end):
        if len(events) >= limit:
            break
        event = _parse(raw)
        if wanted(event):
            cost = len(raw) + _EVENT_OVERHEAD
            if events and cost > budget:
                break
            budget -= cost
            events.append(event)
        position = offset
    events.reverse()
    return events, position


def _lines_backward(file: IO[bytes], end: int) -> Iterator[tuple[int, bytes]]:
    """The lines before byte `end` (a line boundary), last first, with their offsets."""
    buffer = b""
    start = end
    while start > 0:
        block = max(0, start - _CHUNK)
        file.seek(block)
        buffer = file.read(start - block) + buffer
        start = block
        while True:
            cut = buffer.rfind(b"\n", 0, len(buffer) - 1)
            if cut < 0:
                break
            yield start + cut + 1, buffer[cut + 1 :]
            buffer = buffer[: cut + 1]
    if buffer:
        yield 0, buffer
