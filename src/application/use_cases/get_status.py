"""What ``status`` shows: counts, the retry histogram, the gate, the learned limit."""

from __future__ import annotations

from datetime import datetime

import attrs

from channel_parser.application.ports.clock import Clock
from channel_parser.application.ports.storage import (
    ChannelInfo,
    ChannelRegistry,
    MessageRepository,
    MessageStats,
    ServiceState,
)
from channel_parser.domain.gate import QuotaGate


@attrs.frozen
class StatusReport:
    at: datetime
    stats: MessageStats
    gate: QuotaGate
    learned_limit: float | None
    channels: list[ChannelInfo]

    @property
    def due_retries(self) -> bool:
        return self.stats.next_retry_at is not None and self.stats.next_retry_at <= self.at


class GetStatus:
    def __init__(
        self,
        messages: MessageRepository,
        channels: ChannelRegistry,
        state: ServiceState,
        clock: Clock,
    ) -> None:
        self._messages = messages
        self._channels = channels
        self._state = state
        self._clock = clock

    async def __call__(self) -> StatusReport:
        return StatusReport(
            at=self._clock.now(),
            stats=await self._messages.stats(),
            gate=await self._state.quota_gate(),
            learned_limit=await self._state.learned_limit(),
            channels=await self._channels.channels(),
        )
