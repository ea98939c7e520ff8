"""Claim the next message that SPEC.md allows to be processed."""

from __future__ import annotations

import attrs

from channel_parser.application.config import EngineConfig
from channel_parser.application.ports.clock import Clock
from channel_parser.application.ports.storage import (
    ChannelRegistry,
    MessageRepository,
    ServiceState,
)
from channel_parser.domain.gate import QuotaGate
from channel_parser.domain.message import IncomingMessage


@attrs.frozen
class Claimed:
    message: IncomingMessage | None
    gate: QuotaGate  # the gate as it was read: closed means nothing was claimed


class ClaimMessage:
    """Due (retry_after passed), the quota gate open, the channel available."""

    def __init__(
        self,
        messages: MessageRepository,
        channels: ChannelRegistry,
        state: ServiceState,
        clock: Clock,
        config: EngineConfig,
    ) -> None:
        self._messages = messages
        self._channels = channels
        self._state = state
        self._clock = clock
        self._config = config

    async def __call__(self, owner: str) -> Claimed:
        gate = await self._state.quota_gate()
        if not gate.allows_claiming():
            return Claimed(None, gate)
        unavailable = await self._channels.unavailable()
        message = await self._messages.claim_next(
            owner, self._clock.now(), self._config.lease, exclude_channels=unavailable
        )
        return Claimed(message, gate)
