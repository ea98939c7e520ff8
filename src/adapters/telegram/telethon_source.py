"""Live posts from Telegram channels through Telethon, with backfill.

``TelethonPostSource`` listens for new and edited posts of the configured channels and
delivers their text (a media post's caption included) through ``IngestPost``; posts
without text are counted and left out. Because Telethon's own catch-up drops long gaps,
it also backfills every channel from the highest stored message id, on start and every
``backfill_seconds``. Flood waits are slept through on the Clock. Channel availability
(and telling the admins) is ``ChannelWatch``'s part; unavailable channels are looked up
again on every tick.

The Telethon client is injected (anything with the few methods of ``TelegramClientLike``)
and its types stay in this package: the application layer sees ``NewPost`` only.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any

import attrs
from telethon import errors, events, utils

from channel_parser.adapters.telegram.channel_watch import (
    GONE_ERRORS,
    ChannelWatch,
    FloodWaits,
    TelegramClientLike,
    WatchedChannel,
    reason,
)
from channel_parser.application.errors import StorageError
from channel_parser.application.ports.clock import Clock
from channel_parser.application.ports.notify import AdminNotifier
from channel_parser.application.ports.storage import ChannelRegistry, MessageRepository, NewPost
from channel_parser.application.use_cases.ingest import IngestPost

log = logging.getLogger(__name__)


@attrs.define
class SourceStats:
    delivered: Counter[str] = attrs.field(factory=Counter)  # IngestOutcome value -> count
    without_text: int = 0  # posts with no text or caption, left out
    backfilled: int = 0  # posts delivered by a backfill (stored or not)
    flood_waits: int = 0


class TelethonPostSource:
    def __init__(
        self,
        client: TelegramClientLike,
        channels: Sequence[str],
        ingest: IngestPost,
        messages: MessageRepository,
        registry: ChannelRegistry,
        notifier: AdminNotifier,
        clock: Clock,
        *,
        backfill_seconds: float = 300.0,
        initial_posts: int = 0,
    ) -> None:
        self._client = client
        self._flood = FloodWaits(clock)
        self._watch = ChannelWatch(client, channels, registry, notifier, clock, self._flood)
        self._ingest = ingest
        self._messages = messages
        self._clock = clock
        self._backfill_seconds = backfill_seconds
        self._initial_posts = initial_posts  # posts fetched from a channel with none stored
        self._resume_from: dict[int, int] = {}  # a live post the store refused: backfill it
        self._handlers = [
            (self.on_event, events.NewMessage()),
            (self.on_event, events.MessageEdited()),
        ]
        self._stats = SourceStats()

    @property
    def stats(self) -> SourceStats:
        self._stats.flood_waits = self._flood.count
        return self._stats

    @property
    def channel_ids(self) -> frozenset[int]:
        """The marked ids of the channels being read now."""
        return self._watch.available_ids

    # -- lifetime ----------------------------------------------------------------

    async def run(self) -> None:
        """Listen, and backfill now and every ``backfill_seconds``, until cancelled."""
        await self.start()
        try:
            while True:
                await self._clock.sleep(self._backfill_seconds)
                await self.refresh()
        finally:
            self.stop()

    async def start(self) -> None:
        """Register the event handlers, then look every channel up and backfill it (in that
        order, so nothing posted meanwhile falls between the two)."""
        for callback, event in self._handlers:
            self._client.add_event_handler(callback, event)
        await self.refresh()

    def stop(self) -> None:
        for callback, event in self._handlers:
            self._client.remove_event_handler(callback, event)

    async def refresh(self) -> None:
        """Look up again the channels not available, and backfill the available ones."""
        for channel in self._watch.channels:
            try:
                if channel.available is not True and not await self._watch.resolve(channel):
                    continue
                await self.backfill(channel)
            except StorageError as exc:
                log.warning("backfill of %s postponed: the store failed: %s", channel.ref.text, exc)
            except Exception:  # one channel's trouble never stops the others
                log.exception("backfill of %s failed; trying again later", channel.ref.text)

    # -- live posts ----------------------------------------------------------------

    async def on_event(self, event: Any) -> None:
        """The handler of NewMessage and MessageEdited events."""
        message = event.message
        channel_id = utils.get_peer_id(message.peer_id)
        if channel_id not in self.channel_ids:
            return
        try:
            await self._deliver(message, channel_id)
        except StorageError as exc:  # the next backfill fetches it again
            log.warning("post %s/%s not stored: %s", channel_id, message.id, exc)
            before = self._resume_from.get(channel_id, message.id - 1)
            self._resume_from[channel_id] = min(before, message.id - 1)

    async def _deliver(self, message: Any, channel_id: int) -> None:
        text = getattr(message, "message", None) or ""  # the text, or a media post's caption
        if not text.strip():
            self._stats.without_text += 1
            return
        outcome = await self._ingest(NewPost(channel_id, message.id, text, message.date))
        self._stats.delivered[outcome.value] += 1

    # -- backfill ----------------------------------------------------------------

    async def backfill(self, channel: WatchedChannel) -> None:
        """Fetch what was posted after the highest stored id (``min_id`` is exclusive)."""
        assert channel.channel_id is not None
        highest = await self._messages.highest_message_id(channel.channel_id)
        # Kept until a backfill gets through: if the store fails again partway, the next
        # one starts from the same place (a later post stored meanwhile must not hide it).
        resume = self._resume_from.get(channel.channel_id)
        known = [i for i in (highest, resume) if i is not None]
        if not known:
            await self._fetch_latest(channel)
            return
        min_id = min(known)
        while True:
            try:
                async for message in self._client.iter_messages(
                    channel.entity, min_id=min_id, reverse=True
                ):
                    await self._deliver(message, channel.channel_id)
                    self._stats.backfilled += 1
                    min_id = max(min_id, message.id)
                self._resume_from.pop(channel.channel_id, None)
                return
            except errors.FloodWaitError as exc:
                await self._flood.sleep(exc)  # then go on after the last post delivered
            except GONE_ERRORS as exc:
                await self._watch.mark_unavailable(channel, reason(exc))
                return

    async def _fetch_latest(self, channel: WatchedChannel) -> None:
        """A channel with nothing stored: only its latest ``initial_posts`` posts."""
        assert channel.channel_id is not None
        if self._initial_posts <= 0:
            return
        while True:
            try:
                latest = [
                    m
                    async for m in self._client.iter_messages(
                        channel.entity, limit=self._initial_posts
                    )
                ]
                break
            except errors.FloodWaitError as exc:
                await self._flood.sleep(exc)
            except GONE_ERRORS as exc:
                await self._watch.mark_unavailable(channel, reason(exc))
                return
        for message in reversed(latest):
            await self._deliver(message, channel.channel_id)
            self._stats.backfilled += 1
