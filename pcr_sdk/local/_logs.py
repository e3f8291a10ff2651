"""The captured output of job attempts, served as CloudWatch Logs group `/aws/batch/job`.

Every stream is a file under the store's directory (`<stream name>.log`, one event per line:
`<epoch ms> <message>`), appended to as the job prints and read back from there by
GetLogEvents, DescribeLogStreams and FilterLogEvents: memory stays flat however much a job
prints. A stream's timestamps never go back (an event is stamped no earlier than the one
before it), so a stream's file is sorted by time. GetLogEvents' paging tokens are byte offsets
into the file (`f/<offset>` forward, `b/<offset>` backward); DescribeLogStreams' and
FilterLogEvents' name the last item returned (a stream's sort key; an event's time, stream and
offset). Either stays valid while jobs write.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import json
import os
import re
import shutil
import tempfile
import threading
import weakref
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, Final

from pcr_sdk._private.wire import facts
from pcr_sdk.local import _refusals as refusal
from pcr_sdk.local._wire import JsonObject

LOG_GROUP: Final = facts.BATCH_LOG_GROUP
_EVENT_OVERHEAD: Final = 26
_CHUNK: Final = 64 * 1024
_READ_AHEAD_BYTES: Final = 16 * 1024 * 1024
"""What FilterLogEvents buffers across all the streams it merges, at most (about)."""
_SAFE_PART: Final = re.compile(r"[A-Za-z0-9_.-]+")
_TOKEN: Final = re.compile(r"([fb])/([0-9]{1,19})")
"""A GetLogEvents paging token: direction and byte offset (fits a 64-bit file position)."""
_KEY_TOKEN_PREFIX: Final = "pcr-logs/"  # noqa: S105 - a paging token tag, not a secret
_ORDERS: Final = ("LogStreamName", "LastEventTime")
_TERM: Final = re.compile(r'\s*(?:"([^"]*)"|([A-Za-z0-9_]+))(?=\s|$)')
"""A plain filter term: a quoted phrase, or a word of letters, digits and underscores."""

Event = tuple[int, str]
Found = tuple[int, str, int, int, str]
"""A FilterLogEvents candidate: timestamp, stream, byte offset, line length, message."""


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
    def __init__(self, name: str, path: Path, created: int) -> None:
        self.name = name
        self.path = path
        self.created = created
        self.lock = threading.Lock()
        self.writer: IO[bytes] | None = None
        self.size = 0
        self.first: int | None = None
        """The first event's timestamp (epoch ms), once there is one."""
        self.last: int | None = None
        """The last event's timestamp."""

    def flushed_size(self) -> int:
        """The size of the file once what was appended is on disk: a line boundary."""
        with self.lock:
            if self.writer is not None:
                self.writer.flush()
            return self.size

    def describe(self) -> JsonObject:
        """DescribeLogStreams' entry for it."""
        with self.lock:
            first, last = self.first, self.last
        entry: JsonObject = {"logStreamName": self.name, "creationTime": self.created}
        if first is not None and last is not None:
            entry.update(firstEventTimestamp=first, lastEventTimestamp=last, lastIngestionTime=last)
        return entry


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
        self._stream(name, self._clock_ms())

    def _stream(self, name: str, now: int) -> _Stream:
        with self._lock:
            found = self._streams.get(name)
            if found is None:
                path = self.directory / _relative_path(name)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch()
                found = self._streams[name] = _Stream(name, path, created=now)
            return found

    def adopt(self, name: str) -> int | None:
        """Serve stream `name` from its file, written by an earlier backend of a kept account.

        Args:
            name: the log stream's name.

        Returns:
            Its last event's timestamp (epoch ms); None if there is no such file, or no event.
        """
        path = self.directory / _relative_path(name)
        try:
            status = path.stat()
        except FileNotFoundError:
            return None
        stream = _Stream(name, path, created=int(status.st_mtime * 1000))
        with path.open("rb") as file:
            stream.size = _whole_lines(file, status.st_size)
            if stream.size:
                file.seek(0)
                stream.first = stream.created = _parse(file.readline(stream.size))[0]
                _, last_line = next(_lines_backward(file, stream.size))
                stream.last = _parse(last_line)[0]
        with self._lock:
            self._streams.setdefault(name, stream)
        return stream.last

    def append(self, stream: str, message: str) -> None:
        """Add one event per line of `message`, stamped now (never before the stream's last)."""
        now = self._clock_ms()
        target = self._stream(stream, now)
        with target.lock:
            now = max(now, target.last or now)
            data = b"".join(
                f"{now} {line}\n".encode(errors="replace") for line in message.split("\n")
            )
            if target.writer is None:
                target.writer = target.path.open("ab", buffering=_CHUNK)
            target.writer.write(data)
            target.size += len(data)
            target.first = now if target.first is None else target.first
            target.last = now

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

    def operations(self) -> dict[str, Callable[[JsonObject], JsonObject]]:
        """The CloudWatch Logs operations this store answers, by operation name."""
        return {
            "GetLogEvents": self.get_log_events,
            "DescribeLogStreams": self.describe_log_streams,
            "FilterLogEvents": self.filter_log_events,
        }

    def get_log_events(self, params: JsonObject) -> JsonObject:
        """The GetLogEvents operation, with its forward/backward token semantics."""
        _check_group(params)
        name = str(params.get("logStreamName"))
        limit = _limit(params, facts.GET_LOG_EVENTS_MAX_LIMIT)
        start_time = params.get("startTime")
        end_time = params.get("endTime")

        def wanted(event: Event) -> bool:
            return (start_time is None or event[0] >= int(start_time)) and (
                end_time is None or event[0] < int(end_time)
            )

        with self._lock:
            stream = self._streams.get(name)
        if stream is None:
            raise refusal.LOG_STREAM_NOT_FOUND.refuse()
        size = stream.flushed_size()  # a line boundary: whole lines are written, all flushed
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

    def describe_log_streams(self, params: JsonObject) -> JsonObject:
        """DescribeLogStreams: by name (or by last event time), `limit` per page, `nextToken`."""
        _check_group(params)
        prefix = params.get("logStreamNamePrefix")
        order = params.get("orderBy") or _ORDERS[0]
        if order not in _ORDERS:
            raise refusal.LOGS_SHAPE.refuse(problems=f"orderBy must be one of {list(_ORDERS)}")
        if order == "LastEventTime" and prefix is not None:
            raise refusal.LOG_STREAM_ORDER.refuse()
        descending = bool(params.get("descending", False))
        limit = _limit(params, facts.DESCRIBE_LOG_STREAMS_MAX_LIMIT)
        with self._lock:
            streams = [s for n, s in self._streams.items() if n.startswith(prefix or "")]

        def key(stream: _Stream) -> list[Any]:
            if order == "LogStreamName":
                return [stream.name]
            return [stream.last if stream.last is not None else 0, stream.name]

        ordered = sorted(((key(stream), stream) for stream in streams), reverse=descending)
        token = params.get("nextToken")
        if token is not None:
            shape = (str,) if order == "LogStreamName" else (int, str)
            after = _decode_key(token, ["streams", order, descending], shape)
            ordered = [
                (k, stream) for k, stream in ordered if (k < after if descending else k > after)
            ]
        page = ordered[:limit]
        result: JsonObject = {"logStreams": [stream.describe() for _, stream in page]}
        if len(ordered) > limit:
            result["nextToken"] = _encode_key(["streams", order, descending], page[-1][0])
        return result

    def filter_log_events(self, params: JsonObject) -> JsonObject:
        """FilterLogEvents: the events of the chosen streams that match, in time order.

        Events from several streams interleave by timestamp (then stream name, then position),
        up to `limit` and 1 MB a page; `nextToken` names the last one returned.
        """
        _check_group(params)
        names = params.get("logStreamNames")
        prefix = params.get("logStreamNamePrefix")
        if names is not None and prefix is not None:
            raise refusal.LOG_STREAM_SELECTION.refuse(
                problem="logStreamNames and logStreamNamePrefix cannot both be given"
            )
        most_names = facts.FILTER_LOG_EVENTS_MAX_STREAM_NAMES
        if names is not None and not 1 <= len(names) <= most_names:
            raise refusal.LOG_STREAM_SELECTION.refuse(
                problem=f"logStreamNames takes 1 to {most_names} names, got {len(names)}"
            )
        terms = filter_terms(params.get("filterPattern"))
        limit = _limit(params, facts.FILTER_LOG_EVENTS_MAX_LIMIT)
        start_time = int(params.get("startTime") or 0)
        end_time = params.get("endTime")
        token = params.get("nextToken")
        after = _decode_key(token, ["events"], (int, str, int)) if token is not None else None
        with self._lock:
            if names is not None:
                streams = [self._streams[n] for n in dict.fromkeys(names) if n in self._streams]
            else:
                streams = [s for n, s in self._streams.items() if n.startswith(prefix or "")]
        block = max(1024, min(_CHUNK, _READ_AHEAD_BYTES // max(1, len(streams))))
        readers = [
            _stream_events(stream, start_time, after, block)
            for stream in sorted(streams, key=lambda stream: stream.name)
        ]
        events: list[JsonObject] = []
        budget = facts.LOGS_MAX_RESPONSE_BYTES
        last: Found | None = None
        more = False
        for found in heapq.merge(*readers):
            stamp, name, offset, length, message = found
            if end_time is not None and stamp > int(end_time):
                break  # the merge is in time order: every event after this one is later
            if not all(term in message for term in terms):
                continue
            cost = length + _EVENT_OVERHEAD
            if len(events) == limit or (events and cost > budget):
                more = True
                break
            budget -= cost
            events.append(
                {
                    "logStreamName": name,
                    "timestamp": stamp,
                    "ingestionTime": stamp,
                    "message": message,
                    "eventId": f"{stamp:013d}{zlib.crc32(name.encode()):010d}{offset:019d}",
                }
            )
            last = found
        result: JsonObject = {"events": events}
        if more and last is not None:
            result["nextToken"] = _encode_key(["events"], list(last[:3]))
        return result


def filter_terms(pattern: object) -> list[str]:
    """The plain terms of a `filterPattern` (every one must appear); refused beyond them."""
    text = str(pattern or "")
    terms: list[str] = []
    position = 0
    while text[position:].strip():
        found = _TERM.match(text, position)
        if found is None:
            rest = text[position:].split(maxsplit=1)[0]
            raise refusal.FILTER_PATTERN.refuse(
                pattern=text[:200], problem=f"{rest[:40]!r} is not a plain term"
            )
        terms.append(found.group(1) if found.group(1) is not None else found.group(2))
        position = found.end()
    return terms


def _check_group(params: JsonObject) -> None:
    """Exactly one of `logGroupName` and `logGroupIdentifier`, naming `/aws/batch/job`."""
    name = params.get("logGroupName")
    identifier = params.get("logGroupIdentifier")
    if (name is None) == (identifier is None):
        raise refusal.LOG_GROUP_CHOICE.refuse()
    group = str(name if name is not None else identifier)
    if group.rsplit(":log-group:", 1)[-1].removesuffix(":*") != LOG_GROUP:
        raise refusal.LOG_GROUP_NOT_FOUND.refuse()


def _limit(params: JsonObject, most: int) -> int:
    value = params.get("limit")
    if value is None:
        return most
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise refusal.LOGS_LIMIT.refuse(most=most)
    return value


def _encode_key(kind: list[Any], key: list[Any]) -> str:
    text = json.dumps([*kind, key], separators=(",", ":"))
    return _KEY_TOKEN_PREFIX + base64.urlsafe_b64encode(text.encode()).decode()


def _decode_key(token: object, kind: list[Any], shape: tuple[type, ...]) -> list[Any]:
    """The key a DescribeLogStreams or FilterLogEvents token names: of `kind`, typed `shape`."""
    text = str(token)
    try:
        if not text.startswith(_KEY_TOKEN_PREFIX):
            raise ValueError(text)
        decoded = json.loads(base64.urlsafe_b64decode(text[len(_KEY_TOKEN_PREFIX) :]))
        if not isinstance(decoded, list) or decoded[:-1] != kind:
            raise ValueError(text)
        key = decoded[-1]
        if not isinstance(key, list) or [type(part) for part in key] != list(shape):
            raise ValueError(text)
    except (ValueError, binascii.Error, UnicodeDecodeError) as err:
        raise refusal.LOGS_NEXT_TOKEN.refuse(token=text[:200]) from err
    return key


def _stream_events(
    stream: _Stream, start_time: int, after: list[Any] | None, block: int
) -> Iterator[Found]:
    """`stream`'s events in key order (time, stream, offset) from `start_time` on, past `after`.

    The file is opened for each block read only, so merging thousands of streams holds no
    file open between reads.
    """
    size = stream.flushed_size()
    stamp = start_time
    if after is not None:
        token_stamp, token_name, _ = after
        stamp = max(stamp, token_stamp + (1 if stream.name < token_name else 0))
    with stream.path.open("rb") as file:
        position = _first_at(file, size, stamp)
    if after is not None and stream.name == after[1]:
        position = max(position, _line_end(stream.path, after[2], size))
    buffer = b""
    while position < size:
        if b"\n" not in buffer:
            with stream.path.open("rb") as file:
                file.seek(position + len(buffer))
                data = file.read(min(block, size - position - len(buffer)))
            if not data:  # pragma: no cover - the file never shrinks
                return
            buffer += data
            continue
        cut = buffer.index(b"\n") + 1
        raw, buffer = buffer[:cut], buffer[cut:]
        event_stamp, message = _parse(raw)
        yield event_stamp, stream.name, position, len(raw), message
        position += len(raw)


def _line_end(path: Path, offset: int, size: int) -> int:
    """The offset after the line that starts at `offset`."""
    if offset >= size:
        return size
    with path.open("rb") as file:
        file.seek(offset)
        return offset + len(file.readline(size - offset))


def _first_at(file: IO[bytes], size: int, stamp: int) -> int:
    """The offset of the first line stamped `stamp` or later (a binary search: lines are sorted)."""
    low, high = 0, size  # low: a line start with only earlier lines before it
    while high - low > _CHUNK:
        middle = (low + high) // 2
        file.seek(middle - 1)
        file.readline(size - middle + 1)  # to the start of the next line
        start = file.tell()
        if start >= high:
            break
        line = file.readline(size - start)
        if _parse(line)[0] < stamp:
            low = start + len(line)
        else:
            high = start
    file.seek(low)
    position = low
    while position < size:
        raw = file.readline(size - position)
        if _parse(raw)[0] >= stamp:
            break
        position += len(raw)
    return position


def _whole_lines(file: IO[bytes], size: int) -> int:
    """How many bytes of the file are whole lines (a holder killed mid-write leaves a part)."""
    position = size
    while position > 0:
        block = max(0, position - _CHUNK)
        file.seek(block)
        cut = file.read(position - block).rfind(b"\n")
        if cut >= 0:
            return block + cut + 1
        position = block
    return 0


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
        raise refusal.LOGS_NEXT_TOKEN.refuse(token=token[:200])
    kind = found.group(1)
    offset = min(int(found.group(2)), size)
    if offset > 0:
        file.seek(offset - 1)
        if file.read(1) != b"\n":
            raise refusal.LOGS_NEXT_TOKEN.refuse(token=token[:200])
    return kind, offset


def _forward(
    file: IO[bytes], start: int, size: int, limit: int, wanted: Callable[[Event], bool]
) -> tuple[list[Event], int]:
    """Events from byte `start` on (up to `limit` and 1 MB); the offset after the last read."""
    events: list[Event] = []
    budget = facts.LOGS_MAX_RESPONSE_BYTES
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
    budget = facts.LOGS_MAX_RESPONSE_BYTES
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
