"""A small stand-in for ``telethon.TelegramClient``: the methods TelethonPostSource calls,
modelled on what Telegram and Telethon do.

- ``get_input_entity`` finds what the session's cache knows (``cache``: usernames and
  marked ids); a username or invite link it does not know is looked up over the network
  (``entities``: ResolveUsername / CheckChatInvite answers; each counted in
  ``network_lookups``, ``lookup_errors`` raised first); a ``-100…`` id it does not know
  fails with Telethon's "Could not find the input entity" (fresh session).
- ``get_entity(input peer)`` answers as GetChannels does (``channels`` by bare id).
- ``get_dialogs`` puts the account's ``dialogs`` into the cache.
- ``client(request)``: JoinChannel and ImportChatInvite.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from telethon import functions, types, utils

T0 = datetime(2026, 1, 25, 12, 0, tzinfo=UTC)
BARE = 1234567890
MARKED = -1001234567890
NOT_MEMBER = "not a member"  # an invite link whose channel the account has not joined


def channel(
    bare: int = BARE,
    title: str = "Jobs (test)",
    *,
    left: bool = False,
    username: str | None = "jobs",
) -> types.Channel:
    return types.Channel(
        id=bare,
        title=title,
        photo=types.ChatPhotoEmpty(),
        date=T0,
        access_hash=99,
        broadcast=True,
        left=left,
        username=username,
    )


def post(message_id: int, text: str = "", bare: int = BARE, **kwargs: Any) -> types.Message:
    return types.Message(
        id=message_id,
        peer_id=types.PeerChannel(bare),
        date=kwargs.pop("date", T0 + timedelta(minutes=message_id)),
        message=text,
        post=True,
        **kwargs,
    )


class FakeClient:
    def __init__(self) -> None:
        self.entities: dict[Any, Any] = {}  # "@name" / invite link -> entity, exception, NOT_MEMBER
        self.channels: dict[int, Any] = {}  # bare id -> what GetChannels answers
        self.dialogs: list[Any] = []
        self.cache: dict[Any, Any] = {}  # "@name" and marked ids -> input peer
        self.lookup_errors: list[Exception] = []  # raised (in order) by network look-ups
        self.join_errors: list[Exception] = []
        self.history: dict[int, list[types.Message]] = {}  # bare channel id -> posts
        self.history_errors: list[tuple[int, Exception]] = []  # (after n posts, raise this)
        self.handlers: list[tuple[Callable[..., Any], Any]] = []
        self.lookups: list[Any] = []  # every get_input_entity
        self.network_lookups: list[Any] = []  # those that went to Telegram
        self.iter_calls: list[dict[str, Any]] = []
        self.requests: list[Any] = []
        self.dialog_loads = 0

    # -- entities ------------------------------------------------------------------

    def _remember(self, entity: Any, *keys: Any) -> Any:
        peer = utils.get_input_peer(entity)
        self.cache[utils.get_peer_id(entity)] = peer
        for key in keys:
            self.cache[key] = peer
        if getattr(entity, "username", None):
            self.cache[f"@{entity.username.lower()}"] = peer
        self.channels.setdefault(entity.id, entity)
        return peer

    async def get_input_entity(self, peer: Any) -> Any:
        self.lookups.append(peer)
        if isinstance(peer, types.InputPeerChannel | types.InputPeerUser):
            return peer
        key = peer.lower() if isinstance(peer, str) else peer
        if key in self.cache:
            return self.cache[key]
        if isinstance(peer, int):
            raise ValueError(
                f"Could not find the input entity for PeerChannel(channel_id={-peer - 10**12})"
            )
        self.network_lookups.append(peer)
        if self.lookup_errors:
            raise self.lookup_errors.pop(0)
        found = self.entities.get(key)
        if found is None:
            raise ValueError(f'No user has "{peer.lstrip("@")}" as username')
        if found == NOT_MEMBER:
            raise ValueError(
                "Cannot get entity from a channel (or group) that you are not part of. "
                "Join the group and retry"
            )
        if isinstance(found, Exception):
            raise found
        return self._remember(found, key)

    async def get_entity(self, entity: Any) -> Any:
        assert isinstance(entity, types.InputPeerChannel | types.InputPeerUser), entity
        bare = entity.channel_id if isinstance(entity, types.InputPeerChannel) else entity.user_id
        found = self.channels.get(bare)
        if found is None:
            raise ValueError(f"Could not find the input entity for {entity}")
        if isinstance(found, Exception):
            raise found
        return found

    async def get_dialogs(self, *args: Any, **kwargs: Any) -> list[Any]:
        self.dialog_loads += 1
        for entity in self.dialogs:
            self._remember(entity)
        return list(self.dialogs)

    async def __call__(self, request: Any) -> Any:
        self.requests.append(request)
        if self.join_errors:
            raise self.join_errors.pop(0)
        if isinstance(request, functions.channels.JoinChannelRequest):
            bare = request.channel.channel_id
            joined = self.channels[bare]
            joined.left = False
            return types.Updates(updates=[], users=[], chats=[joined], date=T0, seq=0)
        if isinstance(request, functions.messages.ImportChatInviteRequest):
            link = f"https://t.me/+{request.hash}".lower()
            entity = self.entities[f"{link}#joined"]
            self.entities[link] = entity
            self._remember(entity, link)
            return types.Updates(updates=[], users=[], chats=[entity], date=T0, seq=0)
        raise AssertionError(f"unexpected request {request!r}")

    # -- messages ------------------------------------------------------------------

    async def iter_messages(
        self,
        entity: Any,
        *,
        min_id: int = 0,
        max_id: int = 0,
        reverse: bool = False,
        limit: int | None = None,
    ) -> AsyncIterator[types.Message]:
        self.iter_calls.append(
            {"id": entity.id, "min_id": min_id, "reverse": reverse, "limit": limit}
        )
        posts = sorted(self.history.get(entity.id, []), key=lambda m: m.id)
        posts = [m for m in posts if m.id > min_id and (not max_id or m.id < max_id)]
        if not reverse:
            posts.reverse()
        if limit is not None:
            posts = posts[:limit]
        for count, message in enumerate(posts):
            if self.history_errors and self.history_errors[0][0] == count:
                raise self.history_errors.pop(0)[1]
            yield message

    def add_event_handler(self, callback: Callable[..., Any], event: Any = None) -> None:
        self.handlers.append((callback, event))

    def remove_event_handler(self, callback: Callable[..., Any], event: Any = None) -> int:
        before = len(self.handlers)
        self.handlers = [(c, e) for c, e in self.handlers if not (c == callback and e is event)]
        return before - len(self.handlers)

    async def emit(self, event: Any) -> None:
        """Deliver *event* to the handlers registered for its exact kind, as Telethon does."""
        for callback, builder in list(self.handlers):
            if type(event) is builder.Event:
                await callback(event)
