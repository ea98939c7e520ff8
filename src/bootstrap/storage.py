"""Chooses and opens the store from the settings: MongoDB when MONGODB_URI is set,
the embedded SQLite file otherwise."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

import attrs

from channel_parser.adapters.storage.mongo import MongoStorage
from channel_parser.adapters.storage.sqlite import SQLiteStorage
from channel_parser.application.ports.outbox import Outbox
from channel_parser.application.ports.storage import (
    ChannelRegistry,
    MessageRepository,
    ParseCache,
    ServiceState,
)
from channel_parser.bootstrap.settings import Settings

Backend = Literal["mongodb", "sqlite", "memory"]


@attrs.frozen
class Stores:
    """The storage ports of one backend."""

    messages: MessageRepository
    cache: ParseCache
    channels: ChannelRegistry
    state: ServiceState
    backend: Backend
    outbox: Outbox = attrs.field(kw_only=True)  # notifications (and more) to deliver


@asynccontextmanager
async def open_storage(settings: Settings, server_timeout: float = 5.0) -> AsyncIterator[Stores]:
    """Open the configured store (ping, indexes, schema) and close it on exit.

    Raises StorageUnavailable (one line, never the URI's password) when the database
    cannot be reached within *server_timeout* seconds.
    """
    if settings.mongodb_uri is not None:
        mongo = await MongoStorage.connect(
            settings.mongodb_uri.get_secret_value(), settings.mongodb_database, server_timeout
        )
        try:
            yield Stores(
                mongo.messages,
                mongo.cache,
                mongo.channels,
                mongo.state,
                "mongodb",
                outbox=mongo.outbox,
            )
        finally:
            await mongo.close()
        return
    lite = await SQLiteStorage.open(settings.sqlite_path)
    try:
        yield Stores(
            lite.messages, lite.cache, lite.channels, lite.state, "sqlite", outbox=lite.outbox
        )
    finally:
        await lite.close()
