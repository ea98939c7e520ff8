"""The admins' notifications through the Telegram Bot API over HTTP (ADR 0007, 0013).

One ``deliver`` is one ``sendMessage`` to one admin chat, within a deadline; what comes
back is told apart for the outbox: a 429 names its own wait (``retry_after``, or "retry
after N" in old descriptions) and is tried again after it however long it is; 5xx and
network trouble are tried again with backoff; a chat that does not exist or a bot the
admin blocked can never work and is given up with a reason that says what to do. A
group upgraded to a supergroup answers with ``migrate_to_chat_id``: the message is sent
there at once, and this process keeps sending there. The token never appears in a log
or a reason (it is part of the URL).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from types import TracebackType
from typing import Any

import aiohttp

from channel_parser.application.errors import ConfigurationError
from channel_parser.application.ports.notify import (
    Delivered,
    DeliveryResult,
    RetryLater,
    Undeliverable,
)

log = logging.getLogger(__name__)

MAX_TEXT = 4096  # Telegram's limit for one message
_RETRY_AFTER = re.compile(r"retry after (\d+)", re.IGNORECASE)
START_THE_BOT = (
    "the admin must start a chat with the bot first (open the bot in Telegram and press "
    "Start), and ADMIN_CHAT_IDS must hold that admin's chat id"
)
BLOCKED = "the admin blocked the bot or deleted the chat: they must start it again"


class TelegramBotNotifier:
    def __init__(
        self,
        token: str,
        chat_ids: Sequence[int | str],  # a chat id, or a channel's @username
        *,
        api_base: str = "https://api.telegram.org",
        timeout: float = 10.0,
    ) -> None:
        self._token = token
        self._chat_ids = [str(c) for c in dict.fromkeys(chat_ids)]  # only these, each once
        self._base = f"{api_base.rstrip('/')}/bot{token}"
        self._timeout = aiohttp.ClientTimeout(total=timeout)  # the whole call, not a read
        self._session: aiohttp.ClientSession | None = None
        self._moved: dict[str, str] = {}  # a group upgraded to a supergroup: old -> new id

    async def __aenter__(self) -> TelegramBotNotifier:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def destinations(self) -> Sequence[str]:
        return list(self._chat_ids)

    async def check(self) -> None:
        """``getMe`` once at start: a token the Bot API refuses stops the service with one
        line; an unreachable Bot API only warns (notifications wait in the outbox)."""
        status, body, failure = await self._call("getMe", {})
        if failure is not None:
            log.warning("could not check ADMIN_BOT_TOKEN (the Bot API did not answer): %s", failure)
        elif status == 401 or (status == 404 and body.get("error_code") == 404):
            # the Bot API's answer to a revoked token (401) or a malformed one (404 in JSON)
            why = self._redact(str(body.get("description") or f"HTTP {status}"))
            raise ConfigurationError(f"setting ADMIN_BOT_TOKEN: the Bot API refuses it ({why})")
        elif not body.get("ok"):
            log.warning("could not check ADMIN_BOT_TOKEN: HTTP %s %s", status, body)
        else:
            name = (body.get("result") or {}).get("username", "?")
            log.info("admin notifications through the bot @%s", name)

    async def deliver(self, destination: str, payload: Mapping[str, Any]) -> DeliveryResult:
        text = str(payload.get("text", ""))[:MAX_TEXT]
        chat = self._moved.get(destination, destination)
        result, moved_to = await self._send(chat, text)
        if moved_to is not None:
            log.warning(
                "admin chat %s became the supergroup %s: sending there; put %s in ADMIN_CHAT_IDS",
                destination,
                moved_to,
                moved_to,
            )
            self._moved[destination] = moved_to
            result, moved_to = await self._send(moved_to, text)
            if moved_to is not None:
                result = Undeliverable(f"chat {destination} moved twice (to {moved_to})")
        return result

    async def _send(self, chat: str, text: str) -> tuple[DeliveryResult, str | None]:
        """One sendMessage: what happened, and the new chat id when the chat moved."""
        chat_id: int | str = int(chat) if chat.lstrip("-").isdigit() else chat
        payload = {"chat_id": chat_id, "text": text, "link_preview_options": {"is_disabled": True}}
        status, body, failure = await self._call("sendMessage", payload)
        if failure is not None:
            return RetryLater(failure), None
        if status == 200 and body.get("ok"):
            return Delivered(), None
        description = self._redact(str(body.get("description") or f"HTTP {status}"))
        parameters = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
        moved = parameters.get("migrate_to_chat_id") if parameters else None
        if isinstance(moved, int) and not isinstance(moved, bool):
            return Undeliverable(description), str(moved)
        if status == 429:
            return RetryLater(description, _retry_after(parameters or {}, description)), None
        if status >= 500:
            return RetryLater(description), None
        if status in (401, 404):  # the token: kept until a person fixes it and restarts
            return RetryLater(f"{description}: check ADMIN_BOT_TOKEN"), None
        if "chat not found" in description.lower():
            return Undeliverable(f"{description}: {START_THE_BOT}"), None
        if status == 403:
            return Undeliverable(f"{description}: {BLOCKED}"), None
        return Undeliverable(description), None

    async def _call(
        self, method: str, payload: dict[str, Any]
    ) -> tuple[int, dict[str, Any], str | None]:
        """(status, body, None), or (0, {}, why) when no answer came within the deadline."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(f"{self._base}/{method}", json=payload) as response:
                return response.status, await _json(response), None
        except (aiohttp.ClientError, TimeoutError) as exc:
            return 0, {}, self._redact(exc)

    def _redact(self, value: object) -> str:
        if isinstance(value, TimeoutError):
            return "no answer within the deadline (TimeoutError)"
        text = (
            f"{type(value).__name__}: {value}" if isinstance(value, BaseException) else str(value)
        )
        return text.replace(self._token, "<token>") if self._token else text


async def _json(response: aiohttp.ClientResponse) -> dict[str, Any]:
    try:
        body = await response.json(content_type=None)
    except (ValueError, aiohttp.ClientError):
        return {}
    return body if isinstance(body, dict) else {}


def _retry_after(parameters: dict[str, Any], description: str) -> timedelta | None:
    """The 429's own wait: ``parameters.retry_after``, or the "retry after N" of old
    descriptions; None when it names none (then the policy's backoff)."""
    value = parameters.get("retry_after")
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=float(value))
    found = _RETRY_AFTER.search(description)
    return timedelta(seconds=int(found.group(1))) if found else None
