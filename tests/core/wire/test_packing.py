"""Packed array inputs (PCRPACK1): any entry reads back with two ranged reads."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pcr_sdk import PackError, PcrError
from pcr_sdk._private.wire.packing import (
    pack,
    pack_indexed,
    payloads,
    read_entry,
    read_indexed_record,
    read_table,
    table_range,
    unpack,
    unpack_indexed,
)


def test_pack_errors_have_the_root() -> None:
    """Defect 4: PackError was a plain ValueError."""
    assert issubclass(PackError, PcrError)


entries = st.lists(st.tuples(st.integers(0, 10**6), st.binary(max_size=30)), max_size=25)


@given(entries, st.data())
def test_an_indexed_pack_reads_any_child_with_two_ranged_reads(
    pairs: list[tuple[int, bytes]], data: st.DataObject
) -> None:
    packed = pack_indexed(pairs)
    assert unpack_indexed(packed) == pairs
    assert payloads(packed) == [payload for _, payload in pairs]
    first, last = table_range(len(pairs)) if pairs else (0, -1)
    assert read_table(packed[first : last + 1], len(pairs)) == [i for i, _ in pairs]
    if pairs:
        child = data.draw(st.integers(0, len(pairs) - 1))
        reads: list[tuple[int, int]] = []

        def read_range(first: int, last: int) -> bytes:
            reads.append((first, last))
            return packed[first : last + 1]

        index, start, end = read_indexed_record(read_range, child)
        assert (index, packed[start:end]) == pairs[child]
        assert len(reads) == 1  # the payload is the second read


@given(st.lists(st.binary(max_size=40), max_size=30), st.data())
def test_pack_any_entry_reads_back_with_two_ranged_reads(
    payloads: list[bytes], data: st.DataObject
) -> None:
    packed = pack(payloads)
    assert unpack(packed) == payloads
    if payloads:
        i = data.draw(st.integers(min_value=0, max_value=len(payloads) - 1))
        reads: list[tuple[int, int]] = []

        def read_range(first: int, last: int) -> bytes:
            reads.append((first, last))
            return packed[first : last + 1]

        assert read_entry(read_range, i) == payloads[i]
        assert len(reads) <= 2


def test_pack_rejects_what_is_not_a_pack() -> None:
    with pytest.raises(PackError):
        unpack(b"NOTAPACK" + bytes(8))
    with pytest.raises(PackError):
        read_entry(lambda a, b: pack([b"x"])[a : b + 1], 5)
