"""Delivering what the outbox keeps: one try of one payload to one destination.

The admins' notifications are the first topic (``admin``: a Telegram bot, or the console);
the outbox and its delivery loop (``application.deliveries``) know nothing of either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Protocol

import attrs


@attrs.frozen
class Delivered:
    """The destination took it."""


@attrs.frozen
class RetryLater:
    """Not now: the destination is busy, down or unreachable. *after* is its own wait when
    it names one (a Bot API 429's ``retry_after``, honoured however long); None: the
    delivery policy's backoff."""

    reason: str
    after: timedelta | None = None


@attrs.frozen
class Undeliverable:
    """It can never be delivered there (a chat that does not exist, a bot blocked by the
    user): given up, the reason kept and shown."""

    reason: str


DeliveryResult = Delivered | RetryLater | Undeliverable


class NotificationSender(Protocol):
    @property
    def destinations(self) -> Sequence[str]:
        """Where each notification goes (one outbox entry each): the admins' chats."""
        ...

    async def deliver(self, destination: str, payload: Mapping[str, Any]) -> DeliveryResult:
        """One try, within the sender's own deadline. Never raises for a failed delivery."""
        ...

    async def check(self) -> None:
        """At the start of the service: raise ConfigurationError (one line naming the
        setting) when the sender can never work, e.g. a bot token the Bot API refuses."""
        ...

    async def aclose(self) -> None:
        """Close what the tries opened (connections); a later try opens them again."""
        ...
