"""The storage contract against the SQLite adapter, on a real file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from channel_parser.bootstrap.settings import Settings
from channel_parser.bootstrap.storage import Stores, open_storage
from tests.contracts.outbox import OutboxContract
from tests.contracts.storage import StorageContract


class TestSQLiteStorage(StorageContract, OutboxContract):
    @pytest.fixture
    async def stores(self, sqlite_path: Path) -> AsyncIterator[Stores]:
        settings = Settings(_env_file=None, mongodb_uri=None, sqlite_path=sqlite_path)
        async with open_storage(settings) as stores:
            assert stores.backend == "sqlite"
            yield stores


async def test_a_file_made_before_channel_reads_were_kept_gains_the_columns(
    sqlite_path: Path,
) -> None:
    import sqlite3
    from datetime import UTC, datetime

    from channel_parser.application.ports.storage import ChannelMode

    with sqlite3.connect(sqlite_path) as old:
        old.execute(
            "CREATE TABLE channels (channel_id INTEGER PRIMARY KEY, available INTEGER NOT NULL, "
            "title TEXT, reason TEXT, checked_at TEXT)"
        )
        old.execute("INSERT INTO channels VALUES (-1001, 1, 'Old', NULL, NULL)")
    settings = Settings(_env_file=None, mongodb_uri=None, sqlite_path=sqlite_path)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    async with open_storage(settings) as stores:
        await stores.channels.record_read(-1001, ChannelMode.LIVE, now, read_up_to=5)
        got = await stores.channels.channel(-1001)
    assert got is not None
    assert (got.title, got.mode, got.read_up_to, got.last_read_at) == ("Old", "live", 5, now)
