"""What ``status`` shows: counts, the retry histogram, the gate, the learned limit, each
channel (how it is read, its highest stored post, when it was last read) and the outbox."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

from channel_parser.application.ports.clock import Clock
from channel_parser.application.ports.outbox import Outbox, OutboxStats
from channel_parser.application.ports.storage import (
    ChannelInfo,
    ChannelRegistry,
    MessageRepository,
    MessageStats,
    ServiceState,
)
from channel_parser.domain.gate import QuotaGate
from channel_parser.domain.usage import NO_USAGE, LLMUsage, TokenPrices

LAST_DAY = timedelta(hours=24)


@attrs.frozen
class StatusReport:
    at: datetime
    stats: MessageStats
    gate: QuotaGate
    learned_limit: float | None
    channels: list[ChannelInfo]
    usage_total: LLMUsage = NO_USAGE  # every call ever made (the ledger)
    usage_last_day: LLMUsage = NO_USAGE  # from the start of the hour 24 h ago
    prices: TokenPrices | None = None  # LLM_PRICE_*_PER_MTOK, for the estimated cost
    highest_stored: dict[int, int | None] = attrs.field(factory=dict)  # channel -> message id
    outbox: OutboxStats = attrs.field(factory=OutboxStats)

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
        outbox: Outbox,
        prices: TokenPrices | None = None,
    ) -> None:
        self._messages = messages
        self._channels = channels
        self._state = state
        self._clock = clock
        self._prices = prices
        self._outbox = outbox

    async def __call__(self) -> StatusReport:
        now = self._clock.now()
        channels = await self._channels.channels()
        return StatusReport(
            at=now,
            stats=await self._messages.stats(),
            gate=await self._state.quota_gate(),
            learned_limit=await self._state.learned_limit(),
            channels=channels,
            highest_stored={
                c.channel_id: await self._messages.highest_message_id(c.channel_id)
                for c in channels
            },
            outbox=await self._outbox.stats(),
            usage_total=await self._state.usage_since(None),
            usage_last_day=await self._state.usage_since(now - LAST_DAY),
            prices=self._prices,
        )
