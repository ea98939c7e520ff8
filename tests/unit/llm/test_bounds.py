"""Bounds on what a provider sends: JSON nesting checked without recursion, and a reply
read at most so many (decoded) bytes far. The transport runs on httpx2's MockTransport:
no sockets."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator

import httpx2
import pytest

from channel_parser.adapters.llm.bounds import (
    LimitedTransport,
    ReplyTooLarge,
    ReplyUndecodable,
    nests_deeper_than,
)


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("{}", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('{"a": "[[[[[[ not brackets {{{{"}', 1),
        (r'{"a": "escaped quote \" [[[[ still a string"}', 1),
        (r'{"a": "a backslash \\", "b": [[[]]]}', 4),
        ("[" * 10 + "]" * 10, 10),
    ],
)
def test_the_depth_counts_brackets_outside_strings(text: str, depth: int) -> None:
    assert not nests_deeper_than(text, depth)
    assert nests_deeper_than(text, depth - 1)


def test_a_hundred_thousand_levels_are_measured_without_recursion() -> None:
    deep = '{"a":' * 100_000 + "1" + "}" * 100_000
    assert nests_deeper_than(deep, 64)
    with pytest.raises(RecursionError):  # what the check keeps json.loads from meeting
        json.loads(deep)


class _Chunks(httpx2.AsyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            self.sent += 1
            yield chunk


def _client(limit: int, respond: httpx2.Response) -> httpx2.AsyncClient:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return respond

    client = httpx2.AsyncClient(transport=LimitedTransport(limit, httpx2.MockTransport(handler)))
    client.seen = seen  # type: ignore[attr-defined]
    return client


async def test_a_reply_within_the_limit_is_read_whole() -> None:
    client = _client(100, httpx2.Response(200, content=b'{"ok": true}'))
    response = await client.get("http://127.0.0.1/x")
    assert response.json() == {"ok": True}
    assert client.seen[0].headers["accept-encoding"] == "identity"  # type: ignore[attr-defined]


async def test_a_streamed_reply_stops_being_read_past_the_limit() -> None:
    stream = _Chunks([b"x" * 40] * 1000)  # 40 kB, no Content-Length
    client = _client(100, httpx2.Response(200, stream=stream))
    with pytest.raises(ReplyTooLarge, match="larger than 100 bytes"):
        await client.get("http://127.0.0.1/x")
    assert stream.sent == 3  # 120 bytes read, not 40 000


async def test_a_declared_length_past_the_limit_is_refused_before_reading() -> None:
    stream = _Chunks([b"x" * 40] * 1000)
    response = httpx2.Response(200, headers={"Content-Length": "40000"}, stream=stream)
    with pytest.raises(ReplyTooLarge):
        await _client(100, response).get("http://127.0.0.1/x")
    assert stream.sent == 0


async def test_a_compressed_reply_is_bounded_by_its_decoded_size() -> None:
    small = gzip.compress(b'{"ok": true}')
    client = _client(100, httpx2.Response(200, headers={"Content-Encoding": "gzip"}, content=small))
    assert (await client.get("http://127.0.0.1/x")).json() == {"ok": True}
    bomb = gzip.compress(b"0" * 10_000_000)  # about 10 kB that inflate to 10 MB
    assert len(bomb) < 20_000
    headers = {"Content-Encoding": "gzip"}
    with pytest.raises(ReplyTooLarge):
        await _client(1000, httpx2.Response(200, headers=headers, content=bomb)).get(
            "http://127.0.0.1/x"
        )


async def test_an_encoding_we_cannot_bound_is_refused() -> None:
    response = httpx2.Response(200, headers={"Content-Encoding": "br"}, content=b"...")
    with pytest.raises(ReplyUndecodable, match="'br'"):
        await _client(1000, response).get("http://127.0.0.1/x")
