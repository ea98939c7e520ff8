"""The stream the export parser reads: surrogate escapes mended the same whatever the
chunks, a byte-order mark skipped, every value bounded, and errors placed exactly."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

import channel_parser.adapters.telegram.json_stream as json_stream
from channel_parser.adapters.telegram.json_stream import BOM, BoundedStream, ValueTooLarge, locate

ATOMS = [b"\\ud83d", b"\\ude00", b"\\\\", b"a", b"\\u0041", b"\\udc00", b"\\ud800", "ж".encode()]


class Trickle(io.BytesIO):
    """A file that hands out at most *size* bytes per read."""

    def __init__(self, data: bytes, size: int) -> None:
        super().__init__(data)
        self.size = size

    def read(self, n: int | None = -1) -> bytes:
        return super().read(self.size if n is None or n < 0 else min(n, self.size))


def streamed(data: bytes, size: int) -> bytes:
    stream, out = BoundedStream(Trickle(data, size)), b""
    while chunk := stream.read(json_stream.CHUNK):
        out += chunk
    return out


@given(
    st.lists(st.sampled_from(ATOMS), max_size=40),
    st.booleans(),
    st.sampled_from([1, 2, 3, 5, 13, 14, 25, 40]),
)
def test_mending_is_the_same_whatever_the_reads(atoms: list[bytes], bom: bool, size: int) -> None:
    data = (BOM if bom else b"") + b"".join(atoms)
    whole = streamed(data, 1 << 20)
    assert streamed(data, size) == whole
    assert len(whole) == len(data) - (len(BOM) if bom else 0)  # escapes keep their length
    text = json.loads(b'"' + whole + b'"')
    text.encode("utf-8")  # no lone surrogate is left to fail the store


def test_pairs_are_kept_and_lone_halves_replaced() -> None:
    data = b'"\\ud83d\\ude00 \\ud83d x \\ude00 \\\\ude00"'
    assert json.loads(streamed(data, 3)) == "😀 \ufffd x \ufffd \\ude00"


def test_an_empty_read_comes_only_at_the_end() -> None:
    stream = BoundedStream(Trickle(b"\\\\" * 20 + b"\\ud83d", 1))
    sizes = []
    while chunk := stream.read(64):
        sizes.append(len(chunk))
    assert sum(sizes) == 46 and all(sizes)


def test_a_value_larger_than_the_bound_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_stream, "MAX_VALUE_BYTES", 1000)
    stream = BoundedStream(io.BytesIO(b'"' + b"x" * 500_000))
    with pytest.raises(ValueTooLarge):
        while stream.read(json_stream.CHUNK):
            pass


def test_a_long_single_line_is_placed_without_holding_it() -> None:
    data = b'{"messages": [' + b'{"id": 1, "text": "\xd0\xb6"},' * 20_000 + b"{]}"
    where, problem = locate(lambda: io.BytesIO(data), ValueError("parse error: x"))
    assert where == f"line 1, column {len(data.decode()) - 1}"
    assert problem == "parse error: x"
