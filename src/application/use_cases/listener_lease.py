"""One Telegram listener per account: hold the named lease ``telegram-listener:<account>``.

A Telethon session may be used by one process only (``AUTH_KEY_DUPLICATED``), so every
``run`` process asks for the lease in the shared ServiceState; the one that holds it
listens and renews it on a timer, the others work as workers only and try again now and
then, taking over when the holder is gone and its lease has expired.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from channel_parser.application.errors import StorageError
from channel_parser.application.ports.clock import Clock
from channel_parser.application.ports.storage import ServiceState

log = logging.getLogger(__name__)


def listener_lease_name(account: str) -> str:
    return f"telegram-listener:{account}"


class ListenerLease:
    def __init__(
        self,
        state: ServiceState,
        clock: Clock,
        account: str,
        owner: str,
        ttl: timedelta = timedelta(seconds=60),
    ) -> None:
        self.name = listener_lease_name(account)
        self._state = state
        self._clock = clock
        self._owner = owner
        self._ttl = ttl
        self.renew_every = ttl.total_seconds() / 3
        self.retry_every = ttl.total_seconds() / 2
        self.holding = False  # for status and metrics
        self._renewed_at: datetime | None = None

    async def acquire(self) -> bool:
        """Take or renew the lease now; False when another process holds it (or the store
        cannot be reached)."""
        return await self._try() is True

    async def _try(self) -> bool | None:
        """True: ours; False: another process holds it; None: the store failed."""
        now = self._clock.now()
        try:
            taken = await self._state.acquire_lease(self.name, self._owner, now, self._ttl)
        except StorageError as exc:
            log.warning("listener lease %s not renewed: %s", self.name, exc)
            return None
        if taken:
            self._renewed_at = now
        return taken

    async def release(self) -> None:
        self.holding = False
        self._renewed_at = None
        try:
            await self._state.release_lease(self.name, self._owner)
        except StorageError as exc:  # it expires by itself after the ttl
            log.warning("listener lease %s not released: %s", self.name, exc)

    async def hold(self, listen: Callable[[], Awaitable[None]]) -> None:
        """Forever: wait for the lease (a worker only meanwhile), then run *listen* while
        renewing it; stop listening when the lease is lost, and wait again. The lease is
        released when this is cancelled or *listen* ends."""
        try:
            while True:
                if not await self.acquire():
                    await self._clock.sleep(self.retry_every)
                    continue
                log.info("listener lease %s taken: this process listens", self.name)
                self.holding = True
                if await self._listen_while_held(listen):
                    return
                self.holding = False
                log.warning("listener lease %s lost: listening stops", self.name)
        finally:
            await asyncio.shield(self.release())

    async def _listen_while_held(self, listen: Callable[[], Awaitable[None]]) -> bool:
        """True when *listen* ended by itself; False when the lease was lost."""
        listener = asyncio.ensure_future(listen())
        try:
            while True:
                timer = asyncio.ensure_future(self._clock.sleep(self.renew_every))
                await asyncio.wait({listener, timer}, return_when=asyncio.FIRST_COMPLETED)
                timer.cancel()
                if listener.done():
                    listener.result()  # an error of the listener goes to the caller
                    return True
                renewed = await self._try()
                if renewed is None and self._renewed_at is not None:
                    # the store is down: the lease is still ours until its ttl runs out
                    renewed = self._clock.now() < self._renewed_at + self._ttl
                if not renewed:
                    return False
        finally:
            if not listener.done():
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener
