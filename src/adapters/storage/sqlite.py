"""The SQLite store: the embedded default when no MONGODB_URI is set."""

from __future__ import annotations

from pathlib import Path

from channel_parser.adapters.storage.sqlite_db import SQLiteDatabase
from channel_parser.adapters.storage.sqlite_messages import SQLiteMessageRepository
from channel_parser.adapters.storage.sqlite_outbox import SQLiteOutbox
from channel_parser.adapters.storage.sqlite_state import (
    SQLiteChannelRegistry,
    SQLiteParseCache,
    SQLiteServiceState,
)


class SQLiteStorage:
    """Built by ``open``; ``close`` closes the file."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self.db = db
        self.messages = SQLiteMessageRepository(db)
        self.cache = SQLiteParseCache(db)
        self.channels = SQLiteChannelRegistry(db)
        self.state = SQLiteServiceState(db)
        self.outbox = SQLiteOutbox(db)

    @classmethod
    async def open(cls, path: Path, busy_timeout: float = 10.0) -> SQLiteStorage:
        """Open (or create) the file with WAL and the schema."""
        db = SQLiteDatabase(path, busy_timeout)
        try:
            await db.open()
        except BaseException:
            await db.close()
            raise
        return cls(db)

    async def close(self) -> None:
        await self.db.close()
