"""Requeue by hand: by status or by failure kind, or one message (SPEC.md's FAQ)."""

from __future__ import annotations

from collections.abc import Collection

from channel_parser.application.ports.clock import Clock
from channel_parser.application.ports.storage import MessageRepository
from channel_parser.domain.failures import FailureKind
from channel_parser.domain.message import MessageKey
from channel_parser.domain.status import MessageStatus


class RequeueMessages:
    def __init__(self, messages: MessageRepository, clock: Clock) -> None:
        self._messages = messages
        self._clock = clock

    async def __call__(
        self,
        statuses: Collection[MessageStatus] = (),
        kinds: Collection[FailureKind] = (),
    ) -> int:
        if MessageStatus.PROCESSING in statuses:
            raise ValueError("messages being processed cannot be requeued by hand")
        return await self._messages.requeue(self._clock.now(), statuses=statuses, kinds=kinds)


class ResetMessage:
    """Status back to PENDING and retry_count removed, for one message."""

    def __init__(self, messages: MessageRepository, clock: Clock) -> None:
        self._messages = messages
        self._clock = clock

    async def __call__(self, key: MessageKey) -> bool:
        return await self._messages.reset(key, self._clock.now())
