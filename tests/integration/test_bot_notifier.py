"""TelegramBotNotifier against a local aiohttp stand-in for the Bot API on 127.0.0.1."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from rich.console import Console

from channel_parser.adapters.notify.console import ConsoleNotifier
from channel_parser.adapters.notify.telegram_bot import TelegramBotNotifier

TOKEN = "123456:SECRET-token-value"


class InstantClock:
    """Records the waits instead of sleeping (the stand-in is real, the wait need not be)."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    def now(self) -> datetime:
        return datetime(2026, 1, 25, 18, 42, 51, tzinfo=UTC)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


class BotAPI:
    """Answers sendMessage from a script of (status, body) replies, then with success."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.script: list[tuple[int, dict[str, Any]]] = []

    async def send_message(self, request: web.Request) -> web.Response:
        self.paths.append(request.path)
        self.calls.append(await request.json())
        if self.script:
            status, body = self.script.pop(0)
            return web.json_response(body, status=status)
        return web.json_response({"ok": True, "result": {"message_id": len(self.calls)}})


@pytest.fixture
async def bot_api() -> AsyncIterator[tuple[BotAPI, str]]:
    api = BotAPI()
    app = web.Application()
    app.router.add_post("/bot{token}/sendMessage", api.send_message)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield api, f"http://127.0.0.1:{port}"
    await runner.cleanup()


def too_many(retry_after: int, with_parameters: bool = True) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {
        "ok": False,
        "error_code": 429,
        "description": f"Too Many Requests: retry after {retry_after}",
    }
    if with_parameters:
        body["parameters"] = {"retry_after": retry_after}
    return 429, body


async def test_success_sends_to_every_admin_chat_and_only_those(bot_api) -> None:
    api, base = bot_api
    async with TelegramBotNotifier(TOKEN, [111, 222, 111], InstantClock(), api_base=base) as bot:
        assert await bot.send("🚨 Исчерпан лимит LLM API!") is True
    assert [c["chat_id"] for c in api.calls] == [111, 222]
    assert {c["text"] for c in api.calls} == {"🚨 Исчерпан лимит LLM API!"}
    assert api.paths == [f"/bot{TOKEN}/sendMessage"] * 2


async def test_429_waits_retry_after_then_succeeds(bot_api) -> None:
    api, base = bot_api
    api.script = [too_many(7)]
    clock = InstantClock()
    async with TelegramBotNotifier(TOKEN, [111], clock, api_base=base) as bot:
        assert await bot.send("hello") is True
    assert clock.slept == [7.0]
    assert len(api.calls) == 2


async def test_old_429_without_parameters_parses_the_description(bot_api) -> None:
    api, base = bot_api
    api.script = [too_many(5, with_parameters=False)]
    clock = InstantClock()
    async with TelegramBotNotifier(TOKEN, [111], clock, api_base=base) as bot:
        assert await bot.send("hello") is True
    assert clock.slept == [5.0]


async def test_persistent_429_gives_up_after_bounded_tries(bot_api) -> None:
    api, base = bot_api
    api.script = [too_many(3)] * 10
    clock = InstantClock()
    async with TelegramBotNotifier(TOKEN, [111], clock, api_base=base, max_tries=3) as bot:
        assert await bot.send("hello") is False
    assert len(api.calls) == 3
    assert clock.slept == [3.0, 3.0]


async def test_retry_after_beyond_the_limit_gives_up_at_once(bot_api) -> None:
    api, base = bot_api
    api.script = [too_many(3600)]
    clock = InstantClock()
    async with TelegramBotNotifier(TOKEN, [111], clock, api_base=base, max_wait=60) as bot:
        assert await bot.send("hello") is False
    assert clock.slept == []


async def test_chat_not_found_fails_without_retry_and_others_still_get_it(bot_api) -> None:
    api, base = bot_api
    api.script = [
        (400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"})
    ]
    async with TelegramBotNotifier(TOKEN, [111, 222], InstantClock(), api_base=base) as bot:
        assert await bot.send("hello") is False
    assert [c["chat_id"] for c in api.calls] == [111, 222]


async def test_server_errors_are_retried_then_false(bot_api) -> None:
    api, base = bot_api
    api.script = [(502, {"ok": False, "description": "Bad Gateway"})] * 5
    async with TelegramBotNotifier(TOKEN, [111], InstantClock(), api_base=base) as bot:
        assert await bot.send("hello") is False
    assert len(api.calls) == 3


async def test_unreachable_api_returns_false_and_never_logs_the_token(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    bot = TelegramBotNotifier(TOKEN, [111], InstantClock(), api_base="http://127.0.0.1:9")
    async with bot:
        assert await bot.send("hello") is False
    assert caplog.records, "the failure is logged"
    assert all(TOKEN not in r.getMessage() for r in caplog.records)
    assert "SECRET" not in caplog.text


async def test_token_in_an_error_description_is_redacted(bot_api, caplog) -> None:
    api, base = bot_api
    api.script = [(401, {"ok": False, "description": f"Unauthorized: bot{TOKEN} rejected"})]
    async with TelegramBotNotifier(TOKEN, [111], InstantClock(), api_base=base) as bot:
        assert await bot.send("hello") is False
    assert "<token>" in caplog.text
    assert TOKEN not in caplog.text


async def test_no_admin_chats_is_false() -> None:
    async with TelegramBotNotifier(TOKEN, [], InstantClock()) as bot:
        assert await bot.send("hello") is False


async def test_long_text_is_cut_to_telegram_limit(bot_api) -> None:
    api, base = bot_api
    async with TelegramBotNotifier(TOKEN, [111], InstantClock(), api_base=base) as bot:
        assert await bot.send("x" * 5000) is True
    assert len(api.calls[0]["text"]) == 4096


async def test_console_notifier_prints_each_notification() -> None:
    console = Console(record=True, width=80)
    notifier = ConsoleNotifier(console)
    assert await notifier.send("⚠️ Канал недоступен [test]") is True
    plain = ConsoleNotifier(console, pretty=False)
    assert await plain.send("second") is True
    output = console.export_text()
    assert "⚠️ Канал недоступен [test]" in output
    assert "[admin notification]\nsecond" in output
    assert notifier.sent == ["⚠️ Канал недоступен [test]"]
