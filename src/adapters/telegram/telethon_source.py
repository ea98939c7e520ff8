"""Posts from Telegram channels through Telethon: live, and read again from a cursor.

Each configured channel is followed by a task of its own, so that a flood wait (Telegram
may ask for hours) holds only the call that got it, never the other channels. A channel
the account is a member of is *live*: Telegram pushes its new and edited posts (and
albums) to the handlers, and it is also read from its cursor every ``backfill_seconds``,
because Telethon's own catch-up drops long gaps. A public channel the account has not
joined gets no updates: it is *polled*, read from its cursor every ``poll_seconds``.

The cursor is the highest message id read, with text or not (kept in the ChannelRegistry):
media-only posts are not fetched again on every read, and it moves only past what was
stored, so a store failure, a flood wait or a restart never skips a post. A channel with
nothing stored and no cursor gets its latest ``initial_posts`` posts first (0: none, only
what comes next). An album whose items carry several captions is one post, stored under
its first captioned item. Text keeps its hidden links (``rendering``).

The Telethon client is injected (anything with the methods of ``TelegramClientLike``)
and its types stay in this package: the application layer sees ``NewPost`` only.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

import attrs
from telethon import errors, events, utils

from channel_parser.adapters.telegram.channel_watch import (
    GONE_ERRORS,
    ChannelWatch,
    TelegramClientLike,
    WatchedChannel,
    reason,
    request_name,
)
from channel_parser.adapters.telegram.rendering import album_text, message_text
from channel_parser.application.errors import StorageError
from channel_parser.application.ports.clock import Clock
from channel_parser.application.ports.storage import (
    ChannelMode,
    ChannelRegistry,
    MessageRepository,
    NewPost,
)
from channel_parser.application.use_cases.channel_availability import RecordChannelAvailability
from channel_parser.application.use_cases.flood_wait import TellFloodWait
from channel_parser.application.use_cases.ingest import IngestPost, is_blank

log = logging.getLogger(__name__)

ALBUM_SETTLE = timedelta(minutes=1)  # an album this young at the end of a read is read again
ALBUM_SPAN = 10  # an album has at most ten items, with consecutive ids


@attrs.define
class SourceStats:
    delivered: Counter[str] = attrs.field(factory=Counter)  # IngestOutcome value -> count
    without_text: int = 0  # posts with no text or caption, left out
    backfilled: int = 0  # messages read from a cursor (stored or not)
    flood_waits: int = 0


class TelethonPostSource:
    def __init__(
        self,
        client: TelegramClientLike,
        channels: Sequence[str],
        ingest: IngestPost,
        messages: MessageRepository,
        registry: ChannelRegistry,
        report: RecordChannelAvailability,
        tell_flood: TellFloodWait,
        clock: Clock,
        *,
        backfill_seconds: float = 300.0,
        poll_seconds: float = 60.0,
        initial_posts: int = 100,
        join: bool = False,
    ) -> None:
        self._client = client
        self._watch = ChannelWatch(client, channels, report, clock, join=join)
        self._ingest = ingest
        self._messages = messages
        self._registry = registry
        self._tell_flood = tell_flood
        self._clock = clock
        self._backfill_seconds = backfill_seconds
        self._poll_seconds = poll_seconds
        self._initial_posts = initial_posts
        self._handlers = [
            (self.on_new_message, events.NewMessage()),
            (self.on_edited, events.MessageEdited()),
            (self.on_album, events.Album()),
        ]
        self._stats = SourceStats()

    @property
    def stats(self) -> SourceStats:
        return self._stats

    @property
    def channels(self) -> list[WatchedChannel]:
        return self._watch.channels

    @property
    def channel_ids(self) -> frozenset[int]:
        """The marked ids of the channels being read now."""
        return self._watch.available_ids

    # -- lifetime ----------------------------------------------------------------

    async def run(self) -> None:
        """Listen, and follow every channel in a task of its own, until cancelled."""
        self._register()
        followers = [asyncio.create_task(self._follow(c)) for c in self._watch.channels]
        try:
            await asyncio.gather(*followers)
        finally:
            for task in followers:
                task.cancel()
            await asyncio.gather(*followers, return_exceptions=True)
            self.stop()

    async def start(self) -> None:
        """Register the handlers, then read every channel once (handlers first, so that
        nothing posted meanwhile falls between the two)."""
        self._register()
        await self.refresh()

    def stop(self) -> None:
        for callback, event in self._handlers:
            self._client.remove_event_handler(callback, event)

    async def refresh(self) -> None:
        """Read every channel once, all at the same time."""
        await asyncio.gather(*(self.read(channel) for channel in self._watch.channels))

    def _register(self) -> None:
        for callback, event in self._handlers:
            self._client.add_event_handler(callback, event)

    async def _follow(self, channel: WatchedChannel) -> None:
        while True:
            await self._clock.sleep(await self.read(channel))

    async def read(self, channel: WatchedChannel) -> float:
        """Look the channel up if need be and read it from its cursor; the seconds until
        the next read. A flood wait holds this channel only; one channel's trouble never
        stops the others."""
        try:
            while True:
                try:
                    await self._read_once(channel)
                    break
                except errors.FloodWaitError as exc:
                    await self._hold(channel, exc)  # then go on from the cursor
        except StorageError as exc:
            log.warning("reading %s postponed: the store failed: %s", channel.ref.text, exc)
        except Exception:
            log.exception("reading %s failed; trying again later", channel.ref.text)
        if channel.available and channel.mode is ChannelMode.POLLING:
            return self._poll_seconds
        return self._backfill_seconds

    async def _read_once(self, channel: WatchedChannel) -> None:
        poll_recheck = timedelta(seconds=self._backfill_seconds)
        if self._watch.due_for_lookup(channel, poll_recheck):
            if not await self._watch.resolve(channel):
                return
        await self.backfill(channel)

    async def _hold(self, channel: WatchedChannel, exc: errors.FloodWaitError) -> None:
        self._stats.flood_waits += 1
        doing = "looking it up" if channel.available is not True else "reading its posts"
        log.warning(
            "Telegram asks to wait %s s before %s %s (flood wait); the other channels go on",
            exc.seconds,
            doing,
            channel.ref.text,
        )
        await self._tell_flood(channel.name, exc.seconds, request_name(exc, doing))
        await self._clock.sleep(exc.seconds)

    # -- live posts ----------------------------------------------------------------

    async def on_new_message(self, event: Any) -> None:
        message = event.message
        if getattr(message, "grouped_id", None) is not None:
            return  # an album's item: the Album event brings the whole album
        await self._live([message])

    async def on_edited(self, event: Any) -> None:
        message = event.message
        if getattr(message, "grouped_id", None) is None:
            await self._live([message])
            return
        channel = self._watch.by_id(utils.get_peer_id(message.peer_id))
        if channel is None:
            return
        try:  # one caption of an album changed: the album's post is all its captions
            album = await self._album_around(channel, message)
        except errors.RPCError as exc:
            log.warning("edit of an album in %s not read: %s", channel.ref.text, reason(exc))
            return
        await self._live(album or [message])

    async def on_album(self, event: Any) -> None:
        await self._live(list(event.messages))

    async def _live(self, messages: list[Any]) -> None:
        channel_id = utils.get_peer_id(messages[0].peer_id)
        if channel_id not in self.channel_ids:
            return
        try:
            await self._deliver(messages, channel_id)
        except StorageError as exc:  # the cursor has not passed it: the next read stores it
            log.warning("post %s/%s not stored: %s", channel_id, messages[0].id, exc)

    async def _album_around(self, channel: WatchedChannel, message: Any) -> list[Any]:
        near = self._client.iter_messages(
            channel.entity,
            min_id=max(message.id - ALBUM_SPAN, 0),
            max_id=message.id + ALBUM_SPAN,
            reverse=True,
        )
        return [m async for m in near if m.grouped_id == message.grouped_id]

    async def _deliver(self, messages: list[Any], channel_id: int) -> None:
        """One post: a message, or an album (its captions in order, under the first)."""
        # Blank is judged on the plain text: a link around nothing never makes a post.
        captioned = [(m, message_text(m)) for m in messages if not is_blank(m.message or "")]
        if not captioned:
            self._stats.without_text += 1
            return
        first = captioned[0][0]
        text = album_text([t for _, t in captioned]) if len(captioned) > 1 else captioned[0][1]
        outcome = await self._ingest(NewPost(channel_id, first.id, text, first.date))
        self._stats.delivered[outcome.value] += 1

    # -- reading from the cursor ------------------------------------------------------

    async def backfill(self, channel: WatchedChannel) -> None:
        """Read what was posted after the cursor (``min_id`` is exclusive)."""
        assert channel.channel_id is not None and channel.mode is not None
        if not channel.cursor_loaded:
            info = await self._registry.channel(channel.channel_id)
            channel.cursor = info.read_up_to if info is not None else None
            channel.cursor_loaded = True
        start = channel.cursor
        if start is None:  # kept by an older version, or imported: the highest stored
            start = await self._messages.highest_message_id(channel.channel_id)
        if start is None:
            await self._first_read(channel)
        else:
            await self._read_from(channel, start)
        await self._registry.record_read(
            channel.channel_id, channel.mode, self._clock.now(), channel.cursor
        )

    async def _read_from(self, channel: WatchedChannel, start: int) -> None:
        assert channel.channel_id is not None
        channel.cursor = max(channel.cursor or 0, start)
        try:
            newer = self._client.iter_messages(channel.entity, min_id=start, reverse=True)
            await self._deliver_in_order(channel, _counted(newer, self._stats))
        except GONE_ERRORS as exc:
            await self._watch.mark_unavailable(channel, reason(exc))

    async def _first_read(self, channel: WatchedChannel) -> None:
        """A channel with nothing stored and no cursor: its latest ``initial_posts`` posts
        (0: none), and the cursor at its newest post."""
        assert channel.channel_id is not None
        limit = max(self._initial_posts, 1)
        try:
            latest = [m async for m in self._client.iter_messages(channel.entity, limit=limit)]
        except GONE_ERRORS as exc:
            await self._watch.mark_unavailable(channel, reason(exc))
            return
        latest.reverse()
        if self._initial_posts > 0:
            self._stats.backfilled += len(latest)
            await self._deliver_in_order(channel, latest)
        channel.cursor = max((m.id for m in latest), default=0)

    async def _deliver_in_order(self, channel: WatchedChannel, messages: Any) -> None:
        """Deliver messages in id order, an album's items together; the cursor moves past
        each post once it is stored. An album still arriving at the end (younger than
        ALBUM_SETTLE) is stored, and read again next time in case it grew."""
        assert channel.channel_id is not None
        album: list[Any] = []
        async for message in _aiter(messages):
            if album and message.grouped_id != album[0].grouped_id:
                await self._deliver(album, channel.channel_id)
                channel.cursor = album[-1].id
                album = []
            if message.grouped_id is not None:
                album.append(message)
                continue
            await self._deliver([message], channel.channel_id)
            channel.cursor = message.id
        if album:
            await self._deliver(album, channel.channel_id)
            if self._clock.now() - album[-1].date >= ALBUM_SETTLE:
                channel.cursor = album[-1].id
            else:
                channel.cursor = max(channel.cursor or 0, album[0].id - 1)


async def _counted(messages: Any, stats: SourceStats) -> Any:
    async for message in messages:
        stats.backfilled += 1
        yield message


async def _aiter(messages: Iterable[Any] | Any) -> Any:
    if hasattr(messages, "__aiter__"):
        async for message in messages:
            yield message
    else:
        for message in messages:
            yield message
