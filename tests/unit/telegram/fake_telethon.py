"""A small stand-in for ``telethon.TelegramClient``: the methods TelethonPostSource calls."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from telethon import types

T0 = datetime(2026, 1, 25, 12, 0, tzinfo=UTC)
BARE = 1234567890
MARKED = -1001234567890


def channel(
    bare: int = BARE, title: str = "Jobs (test)", username: str | None = None
) -> types.Channel:
    return types.Channel(
        id=bare,
        title=title,
        photo=types.ChatPhotoEmpty(),
        date=T0,
        access_hash=99,
        broadcast=True,
        username=username,
    )


def post(message_id: int, text: str = "", bare: int = BARE, **kwargs: Any) -> types.Message:
    return types.Message(
        id=message_id,
        peer_id=types.PeerChannel(bare),
        date=T0 + timedelta(minutes=message_id),
        message=text,
        post=True,
        **kwargs,
    )


class FakeClient:
    def __init__(self) -> None:
        self.entities: dict[Any, Any] = {}  # lookup -> entity, or an exception to raise
        self.lookup_errors: list[Exception] = []  # raised (in order) before the entities
        self.history: dict[int, list[types.Message]] = {}  # bare channel id -> posts
        self.history_errors: list[tuple[int, Exception]] = []  # (after n posts, raise this)
        self.handlers: list[tuple[Callable[..., Any], Any]] = []
        self.lookups: list[Any] = []
        self.iter_calls: list[dict[str, Any]] = []

    async def get_entity(self, entity: Any) -> Any:
        self.lookups.append(entity)
        if self.lookup_errors:
            raise self.lookup_errors.pop(0)
        found = self.entities.get(entity)
        if found is None:
            raise ValueError(f'No user has "{entity}" as username')
        if isinstance(found, Exception):
            raise found
        return found

    async def iter_messages(
        self, entity: Any, *, min_id: int = 0, reverse: bool = False, limit: int | None = None
    ) -> AsyncIterator[types.Message]:
        self.iter_calls.append(
            {"id": entity.id, "min_id": min_id, "reverse": reverse, "limit": limit}
        )
        posts = sorted(self.history.get(entity.id, []), key=lambda m: m.id)
        posts = [m for m in posts if m.id > min_id]
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
