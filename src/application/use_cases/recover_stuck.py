"""The periodic check for stuck messages: a worker died holding them."""

from __future__ import annotations

import logging

from channel_parser.application.ports.clock import Clock
from channel_parser.application.ports.storage import MessageRepository

log = logging.getLogger(__name__)


class RecoverStuck:
    def __init__(self, messages: MessageRepository, clock: Clock) -> None:
        self._messages = messages
        self._clock = clock

    async def __call__(self) -> int:
        recovered = await self._messages.recover_expired(self._clock.now())
        if recovered:
            log.warning("recovered %d message(s) whose worker stopped holding them", recovered)
        return recovered
