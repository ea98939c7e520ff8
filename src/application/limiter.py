"""Permits for concurrent LLM calls, sized by the learned concurrency limit."""

from __future__ import annotations

import asyncio

from channel_parser.domain.concurrency import ConcurrencyLimit


class AdaptiveLimiter:
    """An async semaphore whose size follows a domain ConcurrencyLimit."""

    def __init__(self, limit: ConcurrencyLimit, *, adaptive: bool = True) -> None:
        self._limit = limit
        self._adaptive = adaptive
        self._in_flight = 0
        self._changed = asyncio.Condition()

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

    async def release(self) -> None:
        async with self._changed:
            self._in_flight -= 1
            self._changed.notify_all()

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
