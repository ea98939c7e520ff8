"""Permits for concurrent LLM calls, sized by the learned concurrency limit."""

from __future__ import annotations

import asyncio
import logging

from channel_parser.application.errors import StorageError
from channel_parser.application.ports.metrics import Metrics
from channel_parser.application.ports.storage import ServiceState
from channel_parser.domain.concurrency import ConcurrencyLimit

log = logging.getLogger(__name__)


class AdaptiveLimiter:
    """An async semaphore whose size follows a domain ConcurrencyLimit; the limit it
    learns is kept in the shared ServiceState, so that the next start begins there."""

    def __init__(
        self,
        limit: ConcurrencyLimit,
        state: ServiceState,
        metrics: Metrics,
        *,
        adaptive: bool = True,
    ) -> None:
        self._limit = limit
        self._state = state
        self._metrics = metrics
        self._adaptive = adaptive
        self._in_flight = 0
        self._changed = asyncio.Condition()
        self._report()

    @property
    def limit(self) -> ConcurrencyLimit:
        return self._limit

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def acquire(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self._in_flight < self._limit.permits)
            self._in_flight += 1
        self._report()

    async def release(self) -> None:
        async with self._changed:
            self._in_flight -= 1
            self._changed.notify_all()
        self._report()

    async def call_ended(self, *, refused: bool) -> None:
        """A call that held a permit ended (*refused*: by a concurrency or rate limit):
        learn from it, keep a changed limit, and give the permit back."""
        if await self.record(refused=refused):
            log.info("concurrency limit now %d", self._limit.permits)
            try:
                await self._state.set_learned_limit(self._limit.limit)
            except StorageError as exc:  # kept at the next change; the store's outage is
                log.warning("could not keep the learned limit: %s", exc)  # reported elsewhere
        await self.release()

    async def record(self, *, refused: bool) -> bool:
        """Feed one finished call's outcome; True when the number of permits changed.
        Call before release(), so that in_flight still counts the finished call."""
        if not self._adaptive:
            return False
        before = self._limit.permits
        if refused:
            self._limit = self._limit.on_refusal(self._in_flight)
        else:
            self._limit = self._limit.on_success(self._in_flight)
        if self._limit.permits != before:
            async with self._changed:
                self._changed.notify_all()
            return True
        return False

    def _report(self) -> None:
        self._metrics.set_concurrency(self._limit.limit, self._in_flight)
