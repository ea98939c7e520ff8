"""TelegramBotNotifier against a local aiohttp stand-in for the Bot API on 127.0.0.1: what
each answer means for the outbox, getMe at start, and a chat that moved."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from rich.console import Console

from channel_parser.adapters.notify.console import ConsoleNotifier
from channel_parser.adapters.notify.telegram_bot import TelegramBotNotifier
from channel_parser.application.errors import ConfigurationError
from channel_parser.application.ports.notify import Delivered, RetryLater, Undeliverable

TOKEN = "123456:SECRET-token-value"


class BotAPI:
    """Answers sendMessage from a script of (status, body) replies, then with success;
    ``hang`` (an Event), when set up, holds every answer until it is set."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.script: list[tuple[int, dict[str, Any]]] = []
        self.me: tuple[int, dict[str, Any]] = (200, {"ok": True, "result": {"username": "bot"}})
        self.hang: asyncio.Event | None = None

    async def send_message(self, request: web.Request) -> web.Response:
        self.paths.append(request.path)
        self.calls.append(await request.json())
        if self.hang is not None:
            await self.hang.wait()
        if self.script:
            status, body = self.script.pop(0)
            return web.json_response(body, status=status)
        return web.json_response({"ok": True, "result": {"message_id": len(self.calls)}})

    async def get_me(self, request: web.Request) -> web.Response:
        self.paths.append(request.path)
        return web.json_response(self.me[1], status=self.me[0])


@pytest.fixture
async def bot_api() -> AsyncIterator[tuple[BotAPI, str]]:
    api = BotAPI()
    app = web.Application()
    app.router.add_post("/bot{token}/sendMessage", api.send_message)
    app.router.add_post("/bot{token}/getMe", api.get_me)
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


def bot(base: str, chats: list[int] | None = None, **kwargs: Any) -> TelegramBotNotifier:
    return TelegramBotNotifier(TOKEN, chats or [111], api_base=base, **kwargs)


async def test_each_admin_chat_is_a_destination_and_only_those(bot_api) -> None:
    api, base = bot_api
    async with bot(base, [111, 222, 111]) as notifier:
        assert notifier.destinations == ["111", "222"]
        for chat in notifier.destinations:
            assert await notifier.deliver(chat, {"text": "🚨 Исчерпан лимит LLM API!"}) == (
                Delivered()
            )
    assert [c["chat_id"] for c in api.calls] == [111, 222]
    assert {c["text"] for c in api.calls} == {"🚨 Исчерпан лимит LLM API!"}
    assert api.paths == [f"/bot{TOKEN}/sendMessage"] * 2


async def test_a_429_names_its_own_wait_however_long(bot_api) -> None:
    api, base = bot_api
    api.script = [too_many(134), too_many(3600)]
    async with bot(base) as notifier:
        first = await notifier.deliver("111", {"text": "hello"})
        second = await notifier.deliver("111", {"text": "hello"})
    assert first == RetryLater("Too Many Requests: retry after 134", timedelta(seconds=134))
    assert isinstance(second, RetryLater) and second.after == timedelta(hours=1)


async def test_an_old_429_without_parameters_parses_the_description(bot_api) -> None:
    api, base = bot_api
    api.script = [too_many(134, with_parameters=False)]
    async with bot(base) as notifier:
        result = await notifier.deliver("111", {"text": "hello"})
    assert isinstance(result, RetryLater) and result.after == timedelta(seconds=134)


async def test_chat_not_found_says_the_admin_must_start_the_bot(bot_api) -> None:
    api, base = bot_api
    api.script = [
        (400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"})
    ]
    async with bot(base) as notifier:
        result = await notifier.deliver("111", {"text": "hello"})
    assert isinstance(result, Undeliverable)
    assert result.reason.startswith("Bad Request: chat not found: the admin must start a chat")
    assert "ADMIN_CHAT_IDS" in result.reason


async def test_a_blocked_bot_is_undeliverable(bot_api) -> None:
    api, base = bot_api
    blocked = "Forbidden: bot was blocked by the user"
    api.script = [(403, {"ok": False, "error_code": 403, "description": blocked})]
    async with bot(base) as notifier:
        result = await notifier.deliver("111", {"text": "hello"})
    assert isinstance(result, Undeliverable) and result.reason.startswith(blocked)


async def test_a_group_that_became_a_supergroup_is_followed(bot_api, caplog) -> None:
    api, base = bot_api
    moved = {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: group chat was upgraded to a supergroup chat",
        "parameters": {"migrate_to_chat_id": -1009876543210},
    }
    api.script = [(400, moved)]
    async with bot(base, [-4242]) as notifier:
        assert await notifier.deliver("-4242", {"text": "one"}) == Delivered()
        assert await notifier.deliver("-4242", {"text": "two"}) == Delivered()
    assert [c["chat_id"] for c in api.calls] == [-4242, -1009876543210, -1009876543210]
    assert "put -1009876543210 in ADMIN_CHAT_IDS" in caplog.text


async def test_server_errors_and_a_refused_token_are_tried_again_later(bot_api) -> None:
    api, base = bot_api
    api.script = [
        (502, {"ok": False, "description": "Bad Gateway"}),
        (401, {"ok": False, "error_code": 401, "description": "Unauthorized"}),
    ]
    async with bot(base) as notifier:
        gateway = await notifier.deliver("111", {"text": "hello"})
        token = await notifier.deliver("111", {"text": "hello"})
    assert gateway == RetryLater("Bad Gateway")
    assert token == RetryLater("Unauthorized: check ADMIN_BOT_TOKEN")


async def test_a_hanging_bot_api_is_given_up_at_the_deadline(bot_api) -> None:
    api, base = bot_api
    api.hang = asyncio.Event()
    async with bot(base, timeout=0.5) as notifier:
        result = await asyncio.wait_for(notifier.deliver("111", {"text": "hello"}), 10)
    api.hang.set()
    assert result == RetryLater("no answer within the deadline (TimeoutError)")


async def test_unreachable_api_is_tried_again_and_never_logs_the_token(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    async with bot("http://127.0.0.1:9") as notifier:
        result = await notifier.deliver("111", {"text": "hello"})
        await notifier.check()  # unreachable at start: a warning, not a stop
    assert isinstance(result, RetryLater) and "ClientConnectorError" in result.reason
    assert TOKEN not in result.reason
    assert caplog.records, "the failed check is logged"
    assert all(TOKEN not in r.getMessage() for r in caplog.records)
    assert "SECRET" not in caplog.text


async def test_a_token_in_an_error_description_is_redacted(bot_api) -> None:
    api, base = bot_api
    api.script = [(400, {"ok": False, "description": f"Bad Request: bot{TOKEN} rejected"})]
    async with bot(base) as notifier:
        result = await notifier.deliver("111", {"text": "hello"})
    assert isinstance(result, Undeliverable)
    assert "<token>" in result.reason and TOKEN not in result.reason


async def test_get_me_at_start_refuses_a_wrong_token_in_one_line(bot_api) -> None:
    api, base = bot_api
    async with bot(base) as notifier:
        await notifier.check()
        api.me = (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        with pytest.raises(ConfigurationError) as caught:
            await notifier.check()
    assert str(caught.value) == "setting ADMIN_BOT_TOKEN: the Bot API refuses it (Unauthorized)"
    assert api.paths == [f"/bot{TOKEN}/getMe"] * 2


async def test_long_text_is_cut_to_telegram_limit(bot_api) -> None:
    api, base = bot_api
    async with bot(base) as notifier:
        assert await notifier.deliver("111", {"text": "x" * 5000}) == Delivered()
    assert len(api.calls[0]["text"]) == 4096


async def test_console_notifier_prints_each_notification() -> None:
    console = Console(record=True, width=80)
    notifier = ConsoleNotifier(console)
    assert notifier.destinations == ["console"]
    assert await notifier.deliver("console", {"text": "⚠️ Канал недоступен [test]"}) == Delivered()
    plain = ConsoleNotifier(console, pretty=False)
    assert await plain.deliver("console", {"text": "second"}) == Delivered()
    output = console.export_text()
    assert "⚠️ Канал недоступен [test]" in output
    assert "[admin notification]\nsecond" in output
    assert notifier.sent == ["⚠️ Канал недоступен [test]"]
