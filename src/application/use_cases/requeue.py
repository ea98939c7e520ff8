"""Requeue by hand: by status, failure kind or a changed profile (within channels and
post times), or one message (the FAQ of docs/SPEC.md)."""

from __future__ import annotations

from collections.abc import Collection

from channel_parser.application.ports.clock import Clock
from channel_parser.application.ports.storage import (
    ChannelRegistry,
    MessageFilter,
    MessageRepository,
)
from channel_parser.application.profiles import ProfileTable
from channel_parser.domain.failures import FailureKind
from channel_parser.domain.message import MessageKey
from channel_parser.domain.status import MessageStatus


class RequeueMessages:
    def __init__(
        self,
        messages: MessageRepository,
        clock: Clock,
        channels: ChannelRegistry | None = None,
        profiles: ProfileTable | None = None,
    ) -> None:
        self._messages = messages
        self._clock = clock
        self._channels = channels
        self._profiles = profiles

    async def __call__(
        self,
        statuses: Collection[MessageStatus] = (),
        kinds: Collection[FailureKind] = (),
        *,
        where: MessageFilter | None = None,
        schema_changed: bool = False,
    ) -> int:
        """*schema_changed*: also the results made under another model, prompt or schema
        than their channel's profile now has."""
        if MessageStatus.PROCESSING in statuses:
            raise ValueError("messages being processed cannot be requeued by hand")
        stale = None
        if schema_changed:
            if self._profiles is None or self._channels is None:
                raise ValueError("the profiles are needed to tell which results are stale")
            stale = self._profiles.stale(await self._channels.channels())
        return await self._messages.requeue(
            self._clock.now(), statuses=statuses, kinds=kinds, where=where, stale=stale
        )


class ResetMessage:
    """Status back to PENDING and retry_count removed, for one message."""

    def __init__(self, messages: MessageRepository, clock: Clock) -> None:
        self._messages = messages
        self._clock = clock

    async def __call__(self, key: MessageKey) -> bool:
        return await self._messages.reset(key, self._clock.now())
