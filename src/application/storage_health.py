"""Riding out a store that goes away: one report per outage, a growing wait between
tries, and one report when it answers again. The engine's loop and the saving of a
parse result share it, so an outage is told once whichever of them meets it first."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

from channel_parser.application import notifications
from channel_parser.application.errors import StorageError
from channel_parser.application.ports.clock import Clock
from channel_parser.application.ports.metrics import Metrics
from channel_parser.application.use_cases.notify_admins import NotifyAdmins
from channel_parser.domain.failures import NotificationKind

log = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_DELAY = 0.5  # seconds before the first retry; doubled after each failure


class StorageHealth:
    def __init__(
        self, notify: NotifyAdmins, clock: Clock, metrics: Metrics, max_delay: timedelta
    ) -> None:
        self._notify = notify
        self._clock = clock
        self._metrics = metrics
        self._max_delay = max_delay.total_seconds()
        self._down_since: datetime | None = None
        self._delay = FIRST_DELAY

    @property
    def up(self) -> bool:
        """False from the first failure of an outage until the next success."""
        return self._down_since is None

    async def failed(self, exc: StorageError) -> float:
        """Record a failure; the first of an outage is logged, shown in the metrics and
        told to the admins (throttled). Returns the seconds to wait before trying again."""
        if self._down_since is not None:
            self._delay = min(self._delay * 2, self._max_delay)
            return self._delay
        now = self._clock.now()
        self._down_since, self._delay = now, FIRST_DELAY
        log.error("storage unavailable: %s; retrying", exc)
        self._metrics.set_storage_up(False)
        detail = str(exc)
        await self._notify(
            NotificationKind.STORAGE_OUTAGE, lambda: notifications.storage_outage(now, detail)
        )
        return self._delay

    def ok(self) -> None:
        """A storage call succeeded: an outage, if there was one, is over."""
        if self._down_since is None:
            return
        down = (self._clock.now() - self._down_since).total_seconds()
        log.warning("storage available again after %.1f s", down)
        self._down_since = None
        self._metrics.set_storage_up(True)

    async def guard(
        self, call: Awaitable[T], wait: Callable[[float], Awaitable[None]] | None = None
    ) -> T | None:
        """Run a storage call whose failure must not stop the caller: None on failure,
        after waiting the backoff (with *wait*, which may end early, or the clock)."""
        try:
            result = await call
        except StorageError as exc:
            delay = await self.failed(exc)
            await (wait or self._clock.sleep)(delay)
            return None
        self.ok()
        return result

    async def retry(self, call: Callable[[], Awaitable[T]], give_up_after: timedelta) -> T:
        """Call until it succeeds, through an outage of up to *give_up_after*; then the
        last StorageError is raised (the caller's lease brings the work back later)."""
        delay, waited = FIRST_DELAY, 0.0
        while True:
            try:
                result = await call()
            except StorageError as exc:
                if waited >= give_up_after.total_seconds():
                    raise
                await self.failed(exc)
                await self._clock.sleep(delay)
                waited += delay
                delay = min(delay * 2, 8.0)
                continue
            self.ok()
            return result
