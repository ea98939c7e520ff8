"""The configured channels: looking them up, and recording and telling their availability.

A private, invalid or vanished channel is marked unavailable in the ChannelRegistry (so
its stored posts wait, as SPEC.md says) and the admins are told once: the registry says
whether the state changed, so a restart does not tell them again. A channel that was never
looked up successfully has no id to record; it is remembered in this process only.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Protocol

import attrs
from telethon import errors, types, utils

from channel_parser.adapters.telegram.channels import ChannelRef, parse_channel_ref
from channel_parser.adapters.telegram.texts import channel_available, channel_unavailable
from channel_parser.application.ports.clock import Clock
from channel_parser.application.ports.notify import AdminNotifier
from channel_parser.application.ports.storage import ChannelRegistry

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
class WatchedChannel:
    ref: ChannelRef
    channel_id: int | None  # marked; None until known
    entity: Any = None
    title: str | None = None
    available: bool | None = None  # None: not looked up yet
    username: str | None = None  # a public channel's, for t.me links of exported results


def reason(exc: Exception) -> str:
    """``ChannelPrivateError: The channel specified is private and you lack permission...``"""
    text = str(exc).split(" (caused by ")[0].split(". ")[0].strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class FloodWaits:
    """Sleeps through Telegram's flood waits on the Clock, counting them."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.count = 0

    async def sleep(self, exc: errors.FloodWaitError) -> None:
        self.count += 1
        log.warning("Telegram asks to wait %s s (flood wait); waiting", exc.seconds)
        await self._clock.sleep(exc.seconds)


class ChannelWatch:
    def __init__(
        self,
        client: TelegramClientLike,
        channels: Sequence[str],
        registry: ChannelRegistry,
        notifier: AdminNotifier,
        clock: Clock,
        flood: FloodWaits,
    ) -> None:
        self.channels = [
            WatchedChannel(ref, ref.known_id) for ref in map(parse_channel_ref, channels)
        ]
        self._client = client
        self._registry = registry
        self._notifier = notifier
        self._clock = clock
        self._flood = flood

    @property
    def available_ids(self) -> frozenset[int]:
        return frozenset(c.channel_id for c in self.channels if c.available and c.channel_id)

    async def resolve(self, channel: WatchedChannel) -> bool:
        """Look the channel up; True when it can be read (recorded either way)."""
        while True:
            try:
                entity = await self._client.get_entity(channel.ref.lookup)
                break
            except errors.FloodWaitError as exc:
                await self._flood.sleep(exc)
            except LOOKUP_ERRORS as exc:
                await self.mark_unavailable(channel, reason(exc))
                return False
        if isinstance(entity, NOT_READABLE):
            channel.channel_id = channel.channel_id or utils.get_peer_id(entity)
            kind = "not a channel" if isinstance(entity, types.User) else "access forbidden"
            await self.mark_unavailable(channel, kind)
            return False
        channel.entity = entity
        channel.channel_id = utils.get_peer_id(entity)
        channel.title = getattr(entity, "title", None)
        channel.username = getattr(entity, "username", None) or None
        await self._mark_available(channel)
        return True

    async def mark_unavailable(self, channel: WatchedChannel, why: str) -> None:
        now = self._clock.now()
        if channel.channel_id is not None:
            changed = await self._registry.set_availability(
                channel.channel_id, False, now, reason=why, title=channel.title
            )
        else:  # never looked up: no id to record, remembered in this process
            changed = channel.available is not False
        channel.available = False
        log.warning("channel %s unavailable: %s", channel.ref.text, why)
        if changed:
            text = channel_unavailable(
                channel.ref.text, channel.channel_id, channel.title, why, now
            )
            await self._notifier.send(text)

    async def _mark_available(self, channel: WatchedChannel) -> None:
        assert channel.channel_id is not None
        now = self._clock.now()
        was_unavailable = channel.available is False or (
            channel.channel_id in await self._registry.unavailable()
        )
        await self._registry.set_availability(
            channel.channel_id, True, now, title=channel.title, username=channel.username
        )
        channel.available = True
        if was_unavailable:
            log.info("channel %s available again", channel.ref.text)
            text = channel_available(channel.ref.text, channel.channel_id, channel.title, now)
            await self._notifier.send(text)
