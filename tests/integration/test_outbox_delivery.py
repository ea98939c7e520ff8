"""The durable outbox with the real Bot API adapter over HTTP (a stand-in on 127.0.0.1),
the real stores and, for parsing, the real openai SDK against the Z.AI simulator."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from dependency_injector import providers
from pydantic import SecretStr

from channel_parser.application.ports.storage import NewPost
from channel_parser.bootstrap.container import Container
from channel_parser.bootstrap.runner import shutdown
from channel_parser.domain.failures import NotificationKind
from channel_parser.domain.status import MessageStatus
from tests.fakes.clock import FakeClock
from tests.integration.engine_support import settings_for, simulator

TOKEN = "123456:OUTBOX-test-token"
ADMIN = 424242
CHANNEL = -1001111111111


class BotAPI:
    """sendMessage answers from a script, then success; ``hang`` holds every answer."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.answered = 0
        self.script: list[tuple[int, dict[str, Any]]] = []
        self.hang: asyncio.Event | None = None

    async def send_message(self, request: web.Request) -> web.Response:
        self.calls.append(await request.json())
        if self.hang is not None:
            await self.hang.wait()
        self.answered += 1
        if self.script:
            status, body = self.script.pop(0)
            return web.json_response(body, status=status)
        return web.json_response({"ok": True, "result": {"message_id": len(self.calls)}})


@pytest.fixture
async def bot_api() -> AsyncIterator[tuple[BotAPI, str]]:
    api = BotAPI()
    app = web.Application()
    app.router.add_post("/bot{token}/sendMessage", api.send_message)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield api, f"http://127.0.0.1:{runner.addresses[0][1]}"
    if api.hang is not None:
        api.hang.set()
    await runner.cleanup()


@pytest.fixture(params=["sqlite", "mongodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    if request.param == "sqlite":
        return {"sqlite_path": tmp_path / "store.sqlite3"}
    uri = request.getfixturevalue("mongo_uri")
    database = request.getfixturevalue("mongo_database")
    return {"sqlite_path": tmp_path / "unused.sqlite3", "mongo": (uri, database)}


def bot_settings(base_url: str, bot_base: str, store: dict[str, Any], **more: Any) -> Any:
    return settings_for(
        base_url,
        admin_bot_token=SecretStr(TOKEN),
        admin_chat_ids=[ADMIN],
        admin_bot_api_base=bot_base,
        **store,
        **more,
    )


async def test_a_429_retry_after_134_is_delivered_later_even_after_a_restart(
    bot_api: tuple[BotAPI, str], store: dict[str, Any]
) -> None:
    """The legacy sample "retry after 134" was dropped after one try. Now the entry waits
    134 s in the store, a restart in between, and the next process delivers it."""
    api, bot_base = bot_api
    api.script = [
        (
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 134",
                "parameters": {"retry_after": 134},
            },
        )
    ]
    clock = FakeClock()
    settings = bot_settings("http://127.0.0.1:9", bot_base, store)
    first = Container(settings=settings)
    first.clock.override(providers.Object(clock))
    try:
        notify = await first.notify.async_()
        assert await notify(NotificationKind.QUOTA_EXHAUSTED, lambda: "🚨 Исчерпан лимит LLM API!")
        deliveries = await first.deliveries.async_()
        next_try = await deliveries.deliver_due()
        assert len(api.calls) == 1 and api.calls[0]["chat_id"] == ADMIN
        assert next_try is not None and (next_try - clock.now()).total_seconds() == 134
        stats = await (await first.outbox.async_()).stats()
        assert (stats.pending, stats.retrying, stats.delivered) == (1, 1, 0)
    finally:
        await shutdown(first)  # the process stops with the entry undelivered

    await clock.advance(134)
    second = Container(settings=settings)  # a new process on the same store
    second.clock.override(providers.Object(clock))
    try:
        deliveries = await second.deliveries.async_()
        assert await deliveries.deliver_due() is None
        stats = await (await second.outbox.async_()).stats()
    finally:
        await shutdown(second)
    assert [c["text"] for c in api.calls] == ["🚨 Исчерпан лимит LLM API!"] * 2
    assert (stats.pending, stats.delivered, stats.failed) == (0, 1, 0)


async def test_a_hanging_bot_api_does_not_slow_parsing(
    bot_api: tuple[BotAPI, str], tmp_path: Path
) -> None:
    """Issue 12 B.4: one quota notification to two admins took 70 s inside the processing
    path. Here the Bot API answers nothing until the posts are parsed; then it answers,
    and the notification is delivered."""
    api, bot_base = bot_api
    api.hang = asyncio.Event()
    posts = 40
    async with simulator(latency={"ms": 20}) as sim:
        sim.script("1302")  # the first call: a concurrency notification
        settings = bot_settings(sim.base_url, bot_base, {"sqlite_path": tmp_path / "s.sqlite3"})
        container = Container(settings=settings)
        try:
            ingest = await container.ingest.async_()
            for i in range(1, posts + 1):
                await ingest(NewPost(CHANNEL, i, f"Пост номер {i}: вакансия дня"))
            deliveries = await container.deliveries.async_()
            delivering = asyncio.create_task(deliveries.run())
            engine = await container.engine.async_()
            started = time.monotonic()
            await asyncio.wait_for(engine.run(until_idle=True), 60)
            parsed_in = time.monotonic() - started
            stats = await (await container.messages.async_()).stats()
            assert stats.by_status[MessageStatus.DONE] == posts - 1
            assert stats.by_status[MessageStatus.RETRY] == 1  # the 1302, due in 30 s
            assert len(api.calls) >= 1 and api.answered == 0  # parsed while it hung
            api.hang.set()
            outbox = await container.outbox.async_()
            deadline = time.monotonic() + 60  # a try that hung times out (10 s), then 5 s
            while (await outbox.stats()).delivered < 1:
                assert time.monotonic() < deadline, await outbox.stats()
                await asyncio.sleep(0.1)
            delivered_in = time.monotonic() - started
            delivering.cancel()
            await asyncio.gather(delivering, return_exceptions=True)
        finally:
            await shutdown(container)
    assert api.calls[-1]["text"].startswith("⚠️ Превышен лимит concurrency LLM API!")
    print(f"\n{posts - 1} posts parsed in {parsed_in:.2f} s with the Bot API hanging; ")
    print(f"the notification delivered {delivered_in:.1f} s after the start")
