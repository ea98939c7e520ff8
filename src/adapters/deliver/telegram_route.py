"""A Telegram route's sender: the rendered text to one chat or channel through the bot of
ADMIN_BOT_TOKEN (the Bot API as the admins' notifications use it, ADR 0013), plain text
(no parse mode: nothing in a post can inject markup). The bot must be a member of the
chat, or an administrator of the channel allowed to post."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from channel_parser.adapters.notify.telegram_bot import BLOCKED, START_THE_BOT, TelegramBotNotifier
from channel_parser.application.ports.notify import DeliveryResult, RetryLater, Undeliverable

BOT_NOT_THERE = (
    "add the bot to the chat (to a channel as an administrator allowed to post) and check "
    "the route's telegram_chat"
)


class TelegramRouteSender:
    def __init__(
        self, route: str, chat: str, token: str, *, api_base: str = "https://api.telegram.org"
    ) -> None:
        self._route = route
        self._chat = chat
        self._bot = TelegramBotNotifier(token, [chat], api_base=api_base)

    @property
    def destinations(self) -> Sequence[str]:
        return [self._chat]

    async def check(self) -> None:
        """The admins' sender checks the same token at start."""

    async def deliver(self, destination: str, payload: Mapping[str, Any]) -> DeliveryResult:
        result = await self._bot.deliver(destination, payload)
        if isinstance(result, Undeliverable | RetryLater):
            reason = result.reason.replace(START_THE_BOT, BOT_NOT_THERE)
            reason = reason.replace(BLOCKED, BOT_NOT_THERE)
            if isinstance(result, Undeliverable):
                return Undeliverable(f"route {self._route}: {reason}")
            return RetryLater(f"route {self._route}: {reason}", result.after)
        return result

    async def aclose(self) -> None:
        await self._bot.aclose()
