"""Bounds on what a provider may send: the size of a reply (read as it streams in, never
whole first) and the nesting of JSON (checked without recursion before it is parsed)."""

from __future__ import annotations

import re
import zlib
from collections.abc import AsyncIterator

import httpx2

# Deeper JSON than this is refused before it is parsed: json.loads and the schema check
# recurse per level, and a reply nesting thousands of levels would raise RecursionError.
MAX_REPLY_DEPTH = 64
# An operator's schema nests twice per level of the data it describes (properties).
MAX_SCHEMA_DEPTH = 100

_SPECIAL = re.compile(r'[\[\]{}"\\]')
# Decoders for the encodings a server may use although we ask for none (identity).
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def nests_deeper_than(text: str, limit: int) -> bool:
    """Whether the JSON text *text* opens more than *limit* arrays/objects inside one
    another (brackets inside strings do not count). Iterative: any depth is safe."""
    depth = 0
    in_string = False
    escaped_at = -1
    for match in _SPECIAL.finditer(text):
        at = match.start()
        if at == escaped_at:
            continue
        char = text[at]
        if in_string:
            if char == "\\":
                escaped_at = at + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


class ReplyTooLarge(Exception):
    """The provider's reply grew past the configured number of bytes; reading stopped."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the reply is larger than {limit} bytes (LLM_MAX_REPLY_BYTES)")
        self.limit = limit


class ReplyUndecodable(Exception):
    """The reply came in an encoding we neither asked for nor can bound."""


class _LimitedStream(httpx2.AsyncByteStream):
    """The body as it arrives, decoded here (so that the limit counts decoded bytes)
    and cut off with ReplyTooLarge once it passes *limit*."""

    def __init__(self, inner: httpx2.AsyncByteStream, limit: int, encoding: str) -> None:
        self._inner = inner
        self._limit = limit
        wbits = _WBITS.get(encoding)
        self._decoder = zlib.decompressobj(wbits) if wbits is not None else None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in self._inner:
            data = chunk
            if self._decoder is not None:
                # At most one byte past the limit per chunk: a small chunk cannot inflate.
                data = self._decoder.decompress(chunk, self._limit - seen + 1)
                if self._decoder.unconsumed_tail:
                    raise ReplyTooLarge(self._limit)
            seen += len(data)
            if seen > self._limit:
                raise ReplyTooLarge(self._limit)
            if data:
                yield data

    async def aclose(self) -> None:
        await self._inner.aclose()


class LimitedTransport(httpx2.AsyncBaseTransport):
    """An HTTP transport whose replies are read at most *limit* bytes far (decoded)."""

    def __init__(self, limit: int, inner: httpx2.AsyncBaseTransport | None = None) -> None:
        self._limit = limit
        self._inner = inner or httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        request.headers["Accept-Encoding"] = "identity"
        response = await self._inner.handle_async_request(request)
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._limit:
            await response.aclose()
            raise ReplyTooLarge(self._limit)
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity", *_WBITS):
            await response.aclose()
            raise ReplyUndecodable(f"the reply came with Content-Encoding {encoding!r}")
        headers = [
            (name, value)
            for name, value in response.headers.multi_items()
            if name.lower() not in ("content-encoding", "content-length")
        ]
        assert isinstance(response.stream, httpx2.AsyncByteStream)
        return httpx2.Response(
            status_code=response.status_code,
            headers=headers,
            stream=_LimitedStream(response.stream, self._limit, encoding),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()
