"""The packed inputs of one array job: one S3 object, from which each child reads only its bytes.

Layout (little-endian):

    b"PCRPACK1" | count: u64 | offsets: (count + 1) x u64 | payload 0 | payload 1 | ...

Child i reads the 16 bytes of offsets i and i + 1 with one ranged GET, then its payload
`[offsets[i], offsets[i + 1])` with a second one: two small requests, whatever the array's size.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable, Sequence
from typing import Final

from pcr_sdk._private.errors import PackError

__all__ = ["MAGIC", "PackError", "offsets_range", "pack", "read_entry", "unpack"]

MAGIC: Final = b"PCRPACK1"
_HEAD: Final = struct.Struct("<8sQ")
_OFFSET: Final = struct.Struct("<Q")
_PAIR: Final = struct.Struct("<QQ")


def pack(payloads: Sequence[bytes]) -> bytes:
    """Pack `payloads` so that any one of them can be read with two ranged GETs."""
    start = _HEAD.size + _OFFSET.size * (len(payloads) + 1)
    offsets = [start]
    for payload in payloads:
        offsets.append(offsets[-1] + len(payload))
    return b"".join(
        [_HEAD.pack(MAGIC, len(payloads)), *(_OFFSET.pack(o) for o in offsets), *payloads]
    )


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
