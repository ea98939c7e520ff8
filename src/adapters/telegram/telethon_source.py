"""Live posts from Telegram channels through Telethon, with backfill and availability.

``TelethonPostSource`` listens for new and edited posts of the configured channels and
delivers their text (a media post's caption included) through ``IngestPost``. Because
Telethon's own catch-up drops long gaps, it also backfills every channel from the highest
stored message id, on start and on a timer. Flood waits are slept through on the Clock.
A private, invalid or vanished channel is marked unavailable in the ChannelRegistry (its
stored posts wait), the admins are told once, and it is looked up again on every timer
tick; becoming available again is recorded and told too.

The Telethon client is injected (anything with the few methods of ``TelegramClientLike``)
and its types stay here: the application layer sees ``NewPost`` only.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Protocol

import attrs
from telethon import errors, events, types, utils

from adapters.telegram.channels import ChannelRef, parse_channel_ref
from adapters.telegram.texts import channel_available, channel_unavailable
from application.errors import StorageError
from application.ports.clock import Clock
from application.ports.notify import AdminNotifier
from application.ports.storage import ChannelRegistry, IngestOutcome, MessageRepository, NewPost
from application.use_cases.ingest import IngestPost

log = logging.getLogger(__name__)

GONE_ERRORS: tuple[type[Exception], ...] = (
    errors.ChannelPrivateError,
    errors.ChannelInvalidError,
    errors.UsernameNotOccupiedError,
    errors.UsernameInvalidError,
)
# get_entity also raises ValueError for an unknown "@name" or an id the session never saw
LOOKUP_ERRORS: tuple[type[Exception], ...] = (*GONE_ERRORS, ValueError)
NOT_READABLE = (types.User, types.ChannelForbidden, types.ChatForbidden)


class TelegramClientLike(Protocol):
    """The part of ``telethon.TelegramClient`` the source uses."""

    async def get_entity(self, entity: Any) -> Any: ...

    def iter_messages(self, entity: Any, *args: Any, **kwargs: Any) -> AsyncIterator[Any]: ...

    def add_event_handler(self, callback: Callable[..., Any], event: Any = None) -> None: ...

    def remove_event_handler(self, callback: Callable[..., Any], event: Any = None) -> int: ...


@attrs.define
class SourceStats:
    delivered: Counter[str] = attrs.field(factory=Counter)  # IngestOutcome -> count
    without_text: int = 0  # posts with no text or caption, ignored
    backfilled: int = 0  # posts delivered by a backfill (stored or not)
    flood_waits: int = 0


@attrs.define
class _Channel:
    ref: ChannelRef
    channel_id: int | None
    entity: Any = None
    title: str | None = None
    available: bool | None = None  # None: not looked up yet


def _reason(exc: Exception) -> str:
    text = str(exc).split(" (caused by ")[0].split(". ")[0].strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


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
        self._channels = [_Channel(ref, ref.known_id) for ref in map(parse_channel_ref, channels)]
        self._ingest = ingest
        self._messages = messages
        self._registry = registry
        self._notifier = notifier
        self._clock = clock
        self._backfill_seconds = backfill_seconds
        self._initial_posts = initial_posts  # posts fetched from a channel with none stored
        self._resume_from: dict[int, int] = {}  # a live post the store refused: backfill it
        self._handlers = [
            (self.on_event, events.NewMessage()),
            (self.on_event, events.MessageEdited()),
        ]
        self.stats = SourceStats()

    # -- lifetime ----------------------------------------------------------------

    async def run(self) -> None:
        """Listen, backfill now and every ``backfill_seconds``; until cancelled."""
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
        for channel in self._channels:
            try:
                if channel.available is not True and not await self._resolve(channel):
                    continue
                await self.backfill(channel)
            except StorageError as exc:
                log.warning("backfill of %s postponed: the store failed: %s", channel.ref.text, exc)
            except Exception:  # one channel's trouble never stops the others
                log.exception("backfill of %s failed; trying again later", channel.ref.text)

    @property
    def channel_ids(self) -> frozenset[int]:
        """The marked ids of the channels being read."""
        return frozenset(c.channel_id for c in self._channels if c.available and c.channel_id)

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

    async def _deliver(self, message: Any, channel_id: int) -> IngestOutcome | None:
        text = getattr(message, "message", None) or ""  # text, or a media post's caption
        if not text.strip():
            self.stats.without_text += 1
            return None
        outcome = await self._ingest(NewPost(channel_id, message.id, text, message.date))
        self.stats.delivered[str(outcome)] += 1
        return outcome

    # -- backfill ----------------------------------------------------------------

    async def backfill(self, channel: _Channel) -> None:
        """Fetch what was posted after the highest stored id (Telethon's catch-up drops
        long gaps); ``min_id`` is exclusive."""
        assert channel.channel_id is not None
        highest = await self._messages.highest_message_id(channel.channel_id)
        resume = self._resume_from.pop(channel.channel_id, None)
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
                    self.stats.backfilled += 1
                    min_id = max(min_id, message.id)
                return
            except errors.FloodWaitError as exc:
                await self._flood_wait(exc)
            except GONE_ERRORS as exc:
                await self._mark_unavailable(channel, _reason(exc))
                return

    async def _fetch_latest(self, channel: _Channel) -> None:
        """A channel with nothing stored: only its latest ``initial_posts`` posts."""
        if self._initial_posts <= 0:
            return
        assert channel.channel_id is not None
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
                await self._flood_wait(exc)
        for message in reversed(latest):
            await self._deliver(message, channel.channel_id)
            self.stats.backfilled += 1

    async def _flood_wait(self, exc: errors.FloodWaitError) -> None:
        self.stats.flood_waits += 1
        log.warning("Telegram asks to wait %s s (flood wait); waiting", exc.seconds)
        await self._clock.sleep(exc.seconds)

    # -- availability ----------------------------------------------------------------

    async def _resolve(self, channel: _Channel) -> bool:
        while True:
            try:
                entity = await self._client.get_entity(channel.ref.lookup)
                break
            except errors.FloodWaitError as exc:
                await self._flood_wait(exc)
            except LOOKUP_ERRORS as exc:
                await self._mark_unavailable(channel, _reason(exc))
                return False
        if isinstance(entity, NOT_READABLE):
            channel.channel_id = channel.channel_id or utils.get_peer_id(entity)
            kind = "not a channel" if isinstance(entity, types.User) else "access forbidden"
            await self._mark_unavailable(channel, kind)
            return False
        channel.entity = entity
        channel.channel_id = utils.get_peer_id(entity)
        channel.title = getattr(entity, "title", None)
        await self._mark_available(channel)
        return True

    async def _mark_unavailable(self, channel: _Channel, reason: str) -> None:
        now = self._clock.now()
        if channel.channel_id is not None:
            changed = await self._registry.set_availability(
                channel.channel_id, False, now, reason=reason, title=channel.title
            )
        else:  # never resolved: no id to record, remember it in this process
            changed = channel.available is not False
        channel.available = False
        log.warning("channel %s unavailable: %s", channel.ref.text, reason)
        if changed:
            await self._notifier.send(
                channel_unavailable(
                    channel.ref.text, channel.channel_id, channel.title, reason, now
                )
            )

    async def _mark_available(self, channel: _Channel) -> None:
        assert channel.channel_id is not None
        now = self._clock.now()
        was_unavailable = channel.available is False or (
            channel.channel_id in await self._registry.unavailable()
        )
        await self._registry.set_availability(channel.channel_id, True, now, title=channel.title)
        channel.available = True
        if was_unavailable:
            log.info("channel %s available again", channel.ref.text)
            await self._notifier.send(
                channel_available(channel.ref.text, channel.channel_id, channel.title, now)
            )
