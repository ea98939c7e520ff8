"""A JSON file read as a stream, in bounded memory, for the export reader.

``BoundedStream`` is what the C parser (ijson's yajl2_c) reads: a leading byte-order mark
is skipped, lone surrogate escapes become U+FFFD (the parser cannot decode a lone low one,
and turns a lone high one into "?"), and no single value may exceed
``MAX_VALUE_BYTES``. The C parser does not say where the JSON breaks: ``locate`` finds the
place again by feeding it the same stream up to the error, then byte by byte, and gives a
line and column (in characters) as Python's json module would.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

import ijson

CHUNK = 64 * 1024
MAX_VALUE_BYTES = 64 * 1024 * 1024  # one message or one value: a larger one is not an export
BOM = b"\xef\xbb\xbf"
PARSE_ERRORS = (ijson.JSONError, UnicodeDecodeError)

# A lone surrogate escape: \uDC00-\uDFFF after no \uD800-\uDBFF, or \uD800-\uDBFF before no
# \uDC00-\uDFFF (a cut emoji). Only a real escape counts: its backslash is not itself
# escaped (an even run of backslashes before it).
_LONE = re.compile(
    rb"(?<!\\)((?:\\\\)*)"
    rb"(?:(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
    rb"|\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2}))"
)
_HIGH = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}")
_CARRY = 12  # an escape pair split between two reads is mended whole

Opener = Callable[[], BinaryIO]


class ValueTooLarge(ValueError):
    """More than MAX_VALUE_BYTES without the end of a value."""


class BoundedStream(io.RawIOBase):
    """The file as the parser reads it (see the module docstring)."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._first = True
        self._carry = b""
        self._before = b""  # the bytes before the carry (is the next backslash escaped?)
        self._since_value = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson asks for nothing first, to learn bytes from text
            return b""
        want = CHUNK if size is None or size < 0 else max(size, _CARRY + 1)
        data, self._carry = self._carry, b""
        while True:  # never an empty read before the end (that would end the parse)
            more = self._raw.read(want)
            data += more
            if self._first:  # a byte-order mark is skipped, once it can be seen whole
                if more and len(data) < len(BOM):
                    continue
                self._first = False
                data = data.removeprefix(BOM)
            if not more:
                break
            cut = _safe_cut(data)
            if cut > 0:  # hold back what may be half an escape, from its backslashes on
                data, self._carry = data[:cut], data[cut:]
                break
        if b"\\u" in data:
            data = self._mend(data)
        self._before = (self._before + data)[-7:]
        self._since_value += len(data)
        if self._since_value > MAX_VALUE_BYTES + 2 * CHUNK:
            raise ValueTooLarge(f"larger than {MAX_VALUE_BYTES // 2**20} MB: not a Telegram export")
        return data

    def _mend(self, data: bytes) -> bytes:
        context = self._before  # the replacement keeps the length: the slice stays right
        return _LONE.sub(rb"\1\\ufffd", context + data)[len(context) :]

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seen_value(self) -> None:
        """A value was read: outside a message each JSON event, else a whole message."""
        self._since_value = 0


def _safe_cut(data: bytes) -> int:
    """Where *data* may be cut without splitting an escape, a pair of surrogate escapes or
    a run of backslashes: before any backslash in its last bytes (0: nowhere yet)."""
    cut = data.find(b"\\", max(len(data) - _CARRY, 0))
    if cut < 0:
        return len(data)
    if _HIGH.fullmatch(data, max(cut - 6, 0), cut):  # keep a pair together
        cut -= 6
    while cut > 0 and data[cut - 1 : cut] == b"\\":
        cut -= 1
    return cut


def locate(opener: Opener, exc: BaseException) -> tuple[str, str]:
    """("line L, column C", the problem) for a parse error the stream of *opener* raised."""
    problem = _first_line(exc)
    offset, at_end = _error_offset(opener)
    line, column, not_utf8 = _line_column(opener, offset)
    if not_utf8 or "UTF8" in problem:
        problem = "not UTF-8 text"
    elif at_end and offset <= len(BOM):
        problem = "the file is empty"
    elif at_end:
        problem += " (the file ends here: it looks truncated)"
    return f"line {line}, column {column}", problem


def _error_offset(opener: Opener) -> tuple[int, bool]:
    """The file offset of the byte at which the parser fails, and whether that is the end
    of the file: the parser is fed the stream chunk by chunk, then the failing chunk again
    (after what came before it) byte by byte."""
    bom = _bom_length(opener)
    offset = 0  # in the stream (the file without its byte-order mark)
    parser, events = _push_parser()
    for chunk in _chunks(opener):
        try:
            parser.send(chunk)
        except PARSE_ERRORS:
            return bom + _offset_within(opener, chunk, offset), False
        events.clear()
        offset += len(chunk)
    return bom + offset, True


def _offset_within(opener: Opener, chunk: bytes, start: int) -> int:
    parser, events = _push_parser()
    for earlier in _chunks(opener, upto=start):
        parser.send(earlier)
        events.clear()
    for position in range(len(chunk)):
        try:
            parser.send(chunk[position : position + 1])
            events.clear()
        except PARSE_ERRORS:
            return start + position
    return start + len(chunk)


def _chunks(opener: Opener, upto: int | None = None) -> Iterator[bytes]:
    """The stream the parser reads, in chunks; with *upto*, only its first bytes."""
    with opener() as raw:
        stream = BoundedStream(raw)
        seen = 0
        while upto is None or seen < upto:
            data = stream.read(CHUNK)
            if not data:
                return
            if upto is not None:
                data = data[: upto - seen]
            seen += len(data)
            yield data


def _bom_length(opener: Opener) -> int:
    with opener() as raw:
        return len(BOM) if raw.read(len(BOM)) == BOM else 0


def _line_column(opener: Opener, offset: int) -> tuple[int, int, bool]:
    """1-based line and column (in characters) of the byte at *offset*, and whether the
    bytes before it on its line are not UTF-8. Read in chunks: a file of one long line
    (minified JSON) is counted without holding it."""
    line, column, seen = 1, 1, 0
    decoder = codecs.getincrementaldecoder("utf-8")()
    with opener() as raw:
        while seen < offset:
            data = raw.read(min(CHUNK, offset - seen))
            if not data:
                break
            if seen == 0 and data.startswith(BOM):
                data, seen = data[len(BOM) :], len(BOM)
            seen += len(data)
            newline = data.rfind(b"\n")
            if newline >= 0:
                line += data.count(b"\n")
                column, data = 1, data[newline + 1 :]
                decoder.reset()
            try:
                column += len(decoder.decode(data))
            except UnicodeDecodeError:
                return line, column, True
    return line, column, False


def _push_parser() -> tuple[Any, Any]:
    events = ijson.sendable_list()
    return ijson.basic_parse_coro(events), events


def _first_line(exc: BaseException) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    text = exc.args[0] if exc.args else str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text).strip().splitlines()[0].rstrip(".") if str(text).strip() else "not JSON"
