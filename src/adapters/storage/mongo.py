"""The MongoDB store: one AsyncMongoClient, the collections, the indexes made at start."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient

from channel_parser.adapters.storage.mongo_errors import describe, translated
from channel_parser.adapters.storage.mongo_messages import MongoMessageRepository
from channel_parser.adapters.storage.mongo_outbox import MongoOutbox
from channel_parser.adapters.storage.mongo_state import (
    MongoChannelRegistry,
    MongoParseCache,
    MongoServiceState,
)
from channel_parser.application.errors import (
    ConfigurationError,
    StorageError,
    StorageUnavailable,
)

MESSAGES = "incoming_messages"
PARSE_CACHE = "parse_cache"
CHANNELS = "channels"
SERVICE_STATE = "service_state"
CLAIM_TOKENS = "claim_tokens"
OUTBOX = "outbox"
CONCURRENCY = "concurrency"  # the learned limit and its permit slots


class MongoStorage:
    """Built by ``connect``; ``close`` ends the client."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        db = client[database]
        self.client = client
        self.messages = MongoMessageRepository(db[MESSAGES], db[CLAIM_TOKENS])
        self.cache = MongoParseCache(db[PARSE_CACHE])
        self.channels = MongoChannelRegistry(db[CHANNELS])
        self.state = MongoServiceState(db[SERVICE_STATE], db[CONCURRENCY])
        self.outbox = MongoOutbox(db[OUTBOX])

    @classmethod
    async def connect(cls, uri: str, database: str, server_timeout: float = 5.0) -> MongoStorage:
        """Connect, ping and create the indexes; StorageUnavailable (one line, no password)
        when the server does not answer within *server_timeout* seconds."""
        try:
            client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
                uri,
                tz_aware=True,
                serverSelectionTimeoutMS=int(server_timeout * 1000),
                connectTimeoutMS=int(server_timeout * 1000),
                **durable_writes(uri),
            )
        except Exception as exc:  # a malformed URI: InvalidURI, ConfigurationError, ValueError
            # a bad setting: the CLI prints one line naming it (never the URI: it may hold
            # a password)
            raise ConfigurationError(f"setting MONGODB_URI: {describe(exc)}") from None
        storage = cls(client, database)
        try:
            with translated("connecting"):
                await client.admin.command("ping")
            await storage.messages.create_indexes()
            await storage.state.create_usage_index()
            await storage.outbox.create_indexes()
        except StorageUnavailable as exc:
            await client.close()
            raise StorageUnavailable(
                f"MongoDB at {hosts_of(uri)} did not answer within {server_timeout:g} s"
            ) from exc.__cause__
        except StorageError as exc:  # e.g. a mongodb+srv:// name that does not resolve
            await client.close()
            raise StorageUnavailable(
                f"MongoDB at {hosts_of(uri)} cannot be reached: {exc}"
            ) from exc.__cause__
        except BaseException:
            await client.close()
            raise
        return storage

    async def close(self) -> None:
        await self.client.close()


def durable_writes(uri: str) -> dict[str, Any]:
    """Writes acknowledged by a majority of a replica set (a stored post survives the
    primary's loss), unless the URI chooses its own write concern (``w=...``)."""
    options = uri.partition("?")[2].lower().split("&")
    if any(option.startswith("w=") for option in options):
        return {}
    return {"w": "majority"}


def hosts_of(uri: str) -> str:
    """The host list of a MongoDB URI, without the scheme, credentials or options."""
    rest = uri.split("://", 1)[-1]
    rest = rest.split("/", 1)[0].split("?", 1)[0]
    return rest.rsplit("@", 1)[-1] or "localhost"
