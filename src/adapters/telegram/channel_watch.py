"""The configured channels: looking each one up once, how it can be read, and telling
whether it can.

A username is resolved over the network once (``ResolveUsername`` is the call Telegram
floods hardest): its id and access hash are then Telethon's session cache's and this
process's (``get_input_entity`` finds them there), and a later look is a cheap
``GetChannels``. A ``-100…`` id can be used only once the session knows the channel: the
account's dialogs are loaded to learn it (at most hourly). A public channel the account
has not joined gets no live updates from Telegram: it is joined when TELEGRAM_JOIN_CHANNELS
is on, and read by polling otherwise (``ChannelMode``). A channel that cannot be read is
reported through the application (``RecordChannelAvailability``) with a reason and a
hint for the admins. Flood waits are raised to the caller, which holds that channel only.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

import attrs
from telethon import errors, functions, types, utils

from channel_parser.adapters.telegram.channels import ChannelRef, RefKind, parse_channel_ref
from channel_parser.application.ports.clock import Clock
from channel_parser.application.ports.storage import ChannelMode
from channel_parser.application.use_cases.channel_availability import (
    ChannelName,
    RecordChannelAvailability,
)

log = logging.getLogger(__name__)

# A channel that went away while being read.
GONE_ERRORS: tuple[type[Exception], ...] = (
    errors.ChannelPrivateError,
    errors.ChannelInvalidError,
    errors.UsernameNotOccupiedError,
    errors.UsernameInvalidError,
)
# get_entity also raises ValueError for an unknown "@name" or an id the session never saw
LOOKUP_ERRORS: tuple[type[Exception], ...] = (*GONE_ERRORS, ValueError)
NOT_READABLE = (types.User, types.ChannelForbidden, types.ChatForbidden)
DIALOGS_EVERY = timedelta(hours=1)  # the account's dialogs, reloaded at most this often
RECHECK_LIVE = timedelta(hours=1)  # a live channel's entity (left? banned?) looked at again

HINT_ID = (
    "Числовой id читается, только если аккаунт состоит в канале: вступите в канал этим "
    "аккаунтом или укажите @username либо ссылку-приглашение в TELEGRAM_CHANNELS."
)
HINT_INVITE_EXPIRED = "Ссылка-приглашение истекла или отозвана: укажите новую в TELEGRAM_CHANNELS."
HINT_INVITE_INVALID = "Ссылка-приглашение неверна: проверьте её в TELEGRAM_CHANNELS."
HINT_JOIN = (
    "Закрытый канал читается только участником: вступите в канал этим аккаунтом "
    "или включите TELEGRAM_JOIN_CHANNELS=true."
)
HINT_USERNAME = "Проверьте имя канала в TELEGRAM_CHANNELS: такого канала нет."
HINT_TOO_MANY = "Аккаунт состоит в слишком многих каналах (до 500): выйдите из ненужных."


class TelegramClientLike(Protocol):
    """The part of ``telethon.TelegramClient`` the source uses."""

    async def get_input_entity(self, peer: Any) -> Any: ...

    async def get_entity(self, entity: Any) -> Any: ...

    async def get_dialogs(self, *args: Any, **kwargs: Any) -> Any: ...

    async def __call__(self, request: Any) -> Any: ...

    def iter_messages(self, entity: Any, *args: Any, **kwargs: Any) -> AsyncIterator[Any]: ...

    def add_event_handler(self, callback: Callable[..., Any], event: Any = None) -> None: ...

    def remove_event_handler(self, callback: Callable[..., Any], event: Any = None) -> int: ...


@attrs.define
class WatchedChannel:
    ref: ChannelRef
    channel_id: int | None  # marked; None until known
    entity: Any = None  # the channel as last looked up
    input_peer: Any = None  # id and access hash: looked up once
    title: str | None = None
    available: bool | None = None  # None: not looked up yet
    username: str | None = None  # a public channel's, for t.me links of exported results
    mode: ChannelMode | None = None
    looked_up_at: datetime | None = None
    cursor: int | None = None  # the highest message id read (kept in the ChannelRegistry)
    cursor_loaded: bool = False

    @property
    def name(self) -> ChannelName:
        return ChannelName(self.ref.text, self.channel_id, self.title, self.username)


class Unreadable(Exception):
    """The channel cannot be read, and why (a reason in English, a hint for the admins)."""

    def __init__(self, reason: str, hint: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint


def reason(exc: Exception) -> str:
    """``ChannelPrivateError: The channel specified is private and you lack permission...``"""
    text = str(exc).split(" (caused by ")[0].split(". ")[0].strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def request_name(exc: errors.FloodWaitError, doing: str) -> str:
    request = getattr(exc, "request", None)
    name = type(request).__name__.removesuffix("Request") if request is not None else ""
    return f"{name} ({doing})" if name else doing


class ChannelWatch:
    def __init__(
        self,
        client: TelegramClientLike,
        channels: Sequence[str],
        report: RecordChannelAvailability,
        clock: Clock,
        *,
        join: bool = False,
    ) -> None:
        self.channels = [
            WatchedChannel(ref, ref.known_id) for ref in map(parse_channel_ref, channels)
        ]
        self._client = client
        self._report = report
        self._clock = clock
        self._join = join
        self._dialogs_at: datetime | None = None

    @property
    def available_ids(self) -> frozenset[int]:
        return frozenset(c.channel_id for c in self.channels if c.available and c.channel_id)

    def by_id(self, channel_id: int) -> WatchedChannel | None:
        for channel in self.channels:
            if channel.channel_id == channel_id and channel.available:
                return channel
        return None

    def due_for_lookup(self, channel: WatchedChannel, poll_recheck: timedelta) -> bool:
        """Not readable yet, or its entity old enough to look at again (a polled channel may
        have been joined meanwhile; a live one left or banned)."""
        if channel.available is not True or channel.looked_up_at is None:
            return True
        every = poll_recheck if channel.mode is ChannelMode.POLLING else RECHECK_LIVE
        return self._clock.now() - channel.looked_up_at >= every

    async def resolve(self, channel: WatchedChannel) -> bool:
        """Look the channel up; True when it can be read (reported either way). A flood
        wait is raised to the caller."""
        try:
            entity = await self._look_up(channel)
        except Unreadable as exc:
            await self.mark_unavailable(channel, exc.reason, exc.hint)
            return False
        except LOOKUP_ERRORS as exc:
            hint = HINT_USERNAME if "as username" in str(exc) else None
            await self.mark_unavailable(channel, reason(exc), hint)
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
        channel.mode = await self._mode(channel, entity)
        channel.looked_up_at = self._clock.now()
        await self._report(channel.name, True, was=channel.available)
        channel.available = True
        return True

    async def mark_unavailable(
        self, channel: WatchedChannel, why: str, hint: str | None = None
    ) -> None:
        was, channel.available = channel.available, False
        if channel.ref.kind is not RefKind.USERNAME:  # an id or an invite: afresh next time
            channel.input_peer = None  # (a username's id stays: it is not resolved again)
        await self._report(channel.name, False, why, hint=hint, was=was)

    # -- looking up ----------------------------------------------------------------

    async def _look_up(self, channel: WatchedChannel) -> Any:
        if channel.input_peer is None:
            channel.input_peer = await self._input_peer(channel)
            channel.channel_id = utils.get_peer_id(channel.input_peer)  # known from here on
        return await self._client.get_entity(channel.input_peer)  # GetChannels: cheap

    async def _input_peer(self, channel: WatchedChannel) -> Any:
        """The channel's id and access hash: from this session's cache when it has them,
        else over the network (a username: once)."""
        ref = channel.ref
        try:
            return await self._client.get_input_entity(ref.lookup)
        except errors.InviteHashExpiredError:
            raise Unreadable("the invite link has expired", HINT_INVITE_EXPIRED) from None
        except errors.InviteHashInvalidError:
            raise Unreadable("the invite link is not valid", HINT_INVITE_INVALID) from None
        except ValueError as exc:
            if ref.kind is RefKind.ID:
                return await self._from_dialogs(ref)
            if ref.kind is RefKind.INVITE and "not part of" in str(exc):
                return await self._join_invite(ref)
            raise
        except (errors.ChannelInvalidError, errors.ChannelPrivateError):
            if ref.kind is RefKind.ID:  # Telethon's last try, an id without its access hash
                return await self._from_dialogs(ref)
            raise

    async def _from_dialogs(self, ref: ChannelRef) -> Any:
        """A ``-100…`` id the session does not know: the account's dialogs teach it."""
        now = self._clock.now()
        if self._dialogs_at is None or now - self._dialogs_at >= DIALOGS_EVERY:
            self._dialogs_at = now
            log.info("loading the account's dialogs to learn channel ids")
            await self._client.get_dialogs()
            try:
                return await self._client.get_input_entity(ref.lookup)
            except ValueError:
                pass
        raise Unreadable("the account has no dialog with this channel id", HINT_ID)

    async def _join_invite(self, ref: ChannelRef) -> Any:
        if not self._join:
            raise Unreadable("the account is not a member of this private channel", HINT_JOIN)
        joining = functions.messages.ImportChatInviteRequest(ref.invite_hash)
        try:
            updates = await self._client(joining)
        except errors.UserAlreadyParticipantError:
            return await self._client.get_input_entity(ref.lookup)
        except errors.InviteRequestSentError:
            raise Unreadable(
                "a request to join was sent; an admin of the channel must approve it"
            ) from None
        except errors.ChannelsTooMuchError:
            raise Unreadable("the account is in too many channels to join", HINT_TOO_MANY) from None
        except errors.InviteHashExpiredError:
            raise Unreadable("the invite link has expired", HINT_INVITE_EXPIRED) from None
        log.info("joined the channel of the invite link %s", ref.text)
        chats = getattr(updates, "chats", None) or []
        if not chats:
            raise Unreadable("joined by the invite link, but Telegram named no channel")
        return utils.get_input_peer(chats[0])

    async def _mode(self, channel: WatchedChannel, entity: Any) -> ChannelMode:
        """Live when the account is a member (Telegram pushes its posts), else polling, or
        joined first when TELEGRAM_JOIN_CHANNELS is on."""
        if not getattr(entity, "left", False):
            return ChannelMode.LIVE
        if self._join:
            try:
                await self._client(functions.channels.JoinChannelRequest(channel.input_peer))
            except errors.ChannelsTooMuchError:
                log.warning("cannot join %s: too many channels; polling it", channel.ref.text)
            except errors.FloodWaitError:
                raise
            except errors.RPCError as exc:
                log.warning("cannot join %s (%s); polling it", channel.ref.text, reason(exc))
            else:
                log.info("joined %s: its posts now come live", channel.ref.text)
                return ChannelMode.LIVE
        if channel.mode is not ChannelMode.POLLING:
            log.info(
                "%s: the account is not a member, so Telegram sends no updates; polling it",
                channel.ref.text,
            )
        return ChannelMode.POLLING
