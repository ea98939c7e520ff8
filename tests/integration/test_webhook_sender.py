"""The webhook sender's answers told apart, against a receiver on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp import web

from channel_parser.adapters.deliver.webhook import WebhookSender
from channel_parser.application.ports.notify import Delivered, RetryLater, Undeliverable
from tests.integration.cli_support import free_port

RECORD = {"channel_id": -1001, "message_id": 7, "parsed_at": "2026-01-19T10:00:00+00:00"}


@pytest.fixture
async def answering() -> AsyncIterator[tuple[list[tuple[int, dict[str, str]]], str]]:
    script: list[tuple[int, dict[str, str]]] = []

    async def post(request: web.Request) -> web.Response:
        await request.read()
        status, headers = script.pop(0) if script else (200, {})
        return web.Response(status=status, text=f"answer {status}", headers=headers)

    app = web.Application()
    app.router.add_post("/hook", post)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield script, f"http://127.0.0.1:{runner.addresses[0][1]}/hook?token=SECRET-TOKEN"
    await runner.cleanup()


async def test_answers_are_told_apart(
    answering: tuple[list[tuple[int, dict[str, str]]], str],
) -> None:
    script, url = answering
    script += [(503, {"Retry-After": "120"}), (404, {}), (422, {}), (204, {})]
    sender = WebhookSender("jobs", url, "s3cret")
    try:
        payload = {"record": RECORD}
        assert await sender.deliver("jobs", payload) == RetryLater(
            "HTTP 503 answer 503", timedelta(seconds=120)
        )
        assert isinstance(await sender.deliver("jobs", payload), RetryLater)  # 404: kept
        refused = await sender.deliver("jobs", payload)
        assert isinstance(refused, Undeliverable) and "HTTP 422" in refused.reason
        assert await sender.deliver("jobs", payload) == Delivered()
    finally:
        await sender.aclose()


async def test_a_receiver_that_is_not_there_is_tried_again_and_the_url_is_never_told() -> None:
    url = f"http://127.0.0.1:{free_port()}/hook?token=SECRET-TOKEN"
    sender = WebhookSender("jobs", url)
    try:
        result = await sender.deliver("jobs", {"record": RECORD})
    finally:
        await sender.aclose()
    assert isinstance(result, RetryLater)
    assert "SECRET-TOKEN" not in result.reason
    assert sender.destinations == ["jobs"]
