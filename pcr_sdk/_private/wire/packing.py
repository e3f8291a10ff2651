"""The packed inputs of one array job: one S3 object, from which each child reads only its bytes.

Layout (little-endian):

    b"PCRPACK1" | count: u64 | offsets: (count + 1) x u64 | payload 0 | payload 1 | ...

Child i reads the 16 bytes of offsets i and i + 1 with one ranged GET, then its payload
`[offsets[i], offsets[i + 1])` with a second one: two small requests, whatever the array's size.

An indexed pack (a rerun of array children) also says which job each child is:

    b"PCRPACK2" | count: u64 | records: (count + 1) x (job index: u64, start: u64) | payloads

Record i holds child i's job index and where its payload starts; the last record (index 0) only
marks the end of the payloads. Child i reads records i and i + 1 (32 bytes) with one ranged GET,
then its payload with a second one; the whole index table is one ranged GET.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable, Sequence
from typing import Final

from pcr_sdk._private.errors import PackError

__all__ = [
    "INDEXED_MAGIC",
    "MAGIC",
    "PackError",
    "offsets_range",
    "pack",
    "pack_head",
    "pack_indexed",
    "payloads",
    "read_entry",
    "read_indexed_record",
    "read_table",
    "table_range",
    "unpack",
    "unpack_indexed",
]

MAGIC: Final = b"PCRPACK1"
INDEXED_MAGIC: Final = b"PCRPACK2"
_HEAD: Final = struct.Struct("<8sQ")
_OFFSET: Final = struct.Struct("<Q")
_PAIR: Final = struct.Struct("<QQ")
_RECORD: Final = _PAIR  # (job index, payload start)
_TWO_RECORDS: Final = struct.Struct("<QQQQ")


def pack(payloads: Sequence[bytes]) -> bytes:
    """Pack `payloads` so that any one of them can be read with two ranged GETs."""
    return b"".join([pack_head([len(payload) for payload in payloads]), *payloads])


def pack_head(sizes: Sequence[int]) -> bytes:
    """The bytes of a pack before its payloads, from the payloads' sizes alone: a pack can be
    written as this, then each payload in turn, without holding them all at once."""
    start = _HEAD.size + _OFFSET.size * (len(sizes) + 1)
    offsets = [start]
    for size in sizes:
        offsets.append(offsets[-1] + size)
    return b"".join([_HEAD.pack(MAGIC, len(sizes)), *(_OFFSET.pack(o) for o in offsets)])


def offsets_range(index: int) -> tuple[int, int]:
    """The inclusive byte range holding the start and end offsets of entry `index`."""
    if index < 0:
        raise PackError(f"pack index must be >= 0, got {index}")
    first = _HEAD.size + _OFFSET.size * index
    return first, first + _PAIR.size - 1


def read_entry(read_range: Callable[[int, int], bytes], index: int) -> bytes:
    """Entry `index`, read through `read_range(first, last)` (inclusive, like HTTP Range)."""
    first, last = offsets_range(index)
    raw = read_range(first, last)
    if len(raw) != _PAIR.size:
        raise PackError(f"pack has no entry {index}")
    start, end = _PAIR.unpack(raw)
    if end < start:
        raise PackError(f"pack entry {index} is corrupt ({start}..{end})")
    return read_range(start, end - 1) if end > start else b""


def unpack(data: bytes) -> list[bytes]:
    """Every entry of a whole pack (for tests, tools and the local engine)."""
    if len(data) < _HEAD.size:
        raise PackError("not a pcr-sdk pack (too short)")
    magic, count = _HEAD.unpack_from(data)
    if magic != MAGIC:
        raise PackError("not a pcr-sdk pack")
    offsets = [
        _OFFSET.unpack_from(data, _HEAD.size + _OFFSET.size * i)[0] for i in range(count + 1)
    ]
    return [data[a:b] for a, b in itertools.pairwise(offsets)]


def pack_indexed(entries: Sequence[tuple[int, bytes]]) -> bytes:
    """Pack (job index, payload) pairs so that child i reads its index and payload with two
    ranged GETs."""
    offset = _HEAD.size + _RECORD.size * (len(entries) + 1)
    records: list[bytes] = []
    for index, payload in entries:
        records.append(_RECORD.pack(index, offset))
        offset += len(payload)
    records.append(_RECORD.pack(0, offset))
    head = _HEAD.pack(INDEXED_MAGIC, len(entries))
    return b"".join([head, *records, *(payload for _, payload in entries)])


def read_indexed_record(
    read_range: Callable[[int, int], bytes], position: int
) -> tuple[int, int, int]:
    """Child `position`'s (job index, payload start, payload end) in an indexed pack."""
    if position < 0:
        raise PackError(f"pack index must be >= 0, got {position}")
    first = _HEAD.size + _RECORD.size * position
    raw = read_range(first, first + _TWO_RECORDS.size - 1)
    if len(raw) != _TWO_RECORDS.size:
        raise PackError(f"indexed pack has no entry {position}")
    index, start, _, end = _TWO_RECORDS.unpack(raw)
    if end < start:
        raise PackError(f"indexed pack entry {position} is corrupt ({start}..{end})")
    return index, start, end


def table_range(count: int) -> tuple[int, int]:
    """The inclusive byte range of the job indexes (with their starts) of `count` children."""
    return _HEAD.size, _HEAD.size + _RECORD.size * count - 1


def read_table(raw: bytes, count: int) -> list[int]:
    """The job indexes of `count` children from the bytes of `table_range(count)`."""
    if len(raw) != _RECORD.size * count:
        raise PackError(f"indexed pack has fewer than {count} entries")
    return [_RECORD.unpack_from(raw, _RECORD.size * i)[0] for i in range(count)]


def unpack_indexed(data: bytes) -> list[tuple[int, bytes]]:
    """Every (job index, payload) of a whole indexed pack."""
    if len(data) < _HEAD.size or _HEAD.unpack_from(data)[0] != INDEXED_MAGIC:
        raise PackError("not a pcr-sdk indexed pack")
    count = _HEAD.unpack_from(data)[1]
    records = [_RECORD.unpack_from(data, _HEAD.size + _RECORD.size * i) for i in range(count + 1)]
    return [(index, data[start:end]) for (index, start), (_, end) in itertools.pairwise(records)]


def payloads(data: bytes) -> list[bytes]:
    """The payloads of a whole pack of either kind, in child order."""
    if data[: len(INDEXED_MAGIC)] == INDEXED_MAGIC:
        return [payload for _, payload in unpack_indexed(data)]
    return unpack(data)
