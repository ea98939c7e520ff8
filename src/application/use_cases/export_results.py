"""Results out: stream the stored posts a filter selects, then (following) the ones parsed
from then on, as they are stored by this process or any other."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime, timedelta

import attrs

from channel_parser.application.errors import StorageError
from channel_parser.application.ports.clock import Clock
from channel_parser.application.ports.storage import (
    ChannelInfo,
    ChannelRegistry,
    MessageFilter,
    MessageRepository,
)
from channel_parser.domain.message import IncomingMessage, MessageKey
from channel_parser.domain.status import MessageStatus

log = logging.getLogger(__name__)


@attrs.frozen
class ExportedPost:
    """A stored post and what the registry knows of its channel (None: nothing)."""

    message: IncomingMessage
    channel: ChannelInfo | None


@attrs.frozen
class FollowConfig:
    poll_interval: timedelta = timedelta(seconds=1)
    # How late a result may be saved after the time it records (``done_at``) and still be
    # found: a save rides out a storage outage for up to 30 s (EngineConfig).
    lookback: timedelta = timedelta(seconds=60)
    batch_size: int = 500


class ExportResults:
    """Memory stays bounded: the store streams a page at a time, and a follower remembers
    only the posts parsed within the last ``lookback`` (to print each result once)."""

    def __init__(
        self,
        messages: MessageRepository,
        channels: ChannelRegistry,
        clock: Clock,
        config: FollowConfig | None = None,
    ) -> None:
        self._messages = messages
        self._channels = channels
        self._clock = clock
        self._config = config or FollowConfig()

    async def __call__(
        self, where: MessageFilter, *, follow: bool = False, stop: asyncio.Event | None = None
    ) -> AsyncGenerator[ExportedPost, None]:
        """Every post *where* selects, in key order; with *follow* (DONE posts only), then
        every post parsed afterwards, in the order of parsing (an edited post that is
        parsed again comes again, with its new result), until *stop* is set."""
        if follow and where.status is not MessageStatus.DONE:
            raise ValueError("only parsed (done) posts can be followed")
        channels = await self._channel_infos()
        started = self._clock.now()
        lookback = self._config.lookback
        printed: dict[MessageKey, datetime] = {}  # parsed within the lookback: printed
        rows = self._messages.iter_matching(where, self._config.batch_size)
        try:
            async for message in rows:
                done_at = message.done_at
                if follow and done_at is not None and done_at >= started - lookback:
                    printed[message.key] = done_at
                yield ExportedPost(message, channels.get(message.channel_id))
        finally:
            await _close(rows)  # a reader that stops early ends the store's cursor now
        if not follow:
            return
        stop = stop or asyncio.Event()
        newest = started
        failing = False
        while not await self._stopped_after_poll_interval(stop):
            since = newest - lookback
            rows = self._messages.iter_parsed_since(since, where, self._config.batch_size)
            try:
                channels = await self._channel_infos()  # a channel may have been added
                async for message in rows:
                    assert message.done_at is not None
                    if printed.get(message.key) == message.done_at:
                        continue
                    printed[message.key] = message.done_at
                    newest = max(newest, message.done_at)
                    yield ExportedPost(message, channels.get(message.channel_id))
            except StorageError as exc:  # a follower rides out an outage: the next poll
                # looks back from the newest result printed, so nothing is skipped
                if not failing:
                    log.warning("following: the store failed; trying again: %s", exc)
                failing = True
                continue
            finally:
                await _close(rows)
            if failing:
                log.warning("following: the store answers again")
                failing = False
            printed = {k: at for k, at in printed.items() if at >= newest - lookback}

    async def _channel_infos(self) -> dict[int, ChannelInfo]:
        return {info.channel_id: info for info in await self._channels.channels()}

    async def _stopped_after_poll_interval(self, stop: asyncio.Event) -> bool:
        """Wait one poll interval; True as soon as *stop* is set."""
        if stop.is_set():
            return True
        stopping = asyncio.ensure_future(stop.wait())
        sleeping = asyncio.ensure_future(
            self._clock.sleep(self._config.poll_interval.total_seconds())
        )
        try:
            await asyncio.wait({stopping, sleeping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (stopping, sleeping):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        return stop.is_set()


async def _close(rows: AsyncIterator[IncomingMessage]) -> None:
    aclose = getattr(rows, "aclose", None)
    if aclose is not None:
        await aclose()
