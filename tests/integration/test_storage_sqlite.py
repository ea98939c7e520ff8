"""The storage contract against the SQLite adapter, on a real file."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from channel_parser.bootstrap.settings import Settings
from channel_parser.bootstrap.storage import Stores, open_storage
from channel_parser.domain.concurrency import LearnedLimit
from tests.contracts.storage import StorageContract


class TestSQLiteStorage(StorageContract):
    @pytest.fixture
    async def stores(self, sqlite_path: Path) -> AsyncIterator[Stores]:
        settings = Settings(_env_file=None, mongodb_uri=None, sqlite_path=sqlite_path)
        async with open_storage(settings) as stores:
            assert stores.backend == "sqlite"
            yield stores


async def test_a_learned_limit_kept_as_a_bare_number_is_still_read(sqlite_path: Path) -> None:
    """Before the ceiling was shared, the file kept the learned limit as a number."""
    settings = Settings(_env_file=None, mongodb_uri=None, sqlite_path=sqlite_path)
    async with open_storage(settings):
        pass
    with sqlite3.connect(sqlite_path) as conn:
        conn.execute("INSERT INTO service_state VALUES ('learned_limit', '6.5')")
    async with open_storage(settings) as stores:
        assert await stores.state.learned_limit() == 6.5
        seen: list[LearnedLimit | None] = []

        def learn(stored: LearnedLimit | None, others: int) -> LearnedLimit:
            seen.append(stored)
            return LearnedLimit(7.0, 8, 1.0, datetime(2026, 1, 25, tzinfo=UTC))

        await stores.state.learn_limit("w", learn, datetime(2026, 1, 25, tzinfo=UTC))
        assert seen == [LearnedLimit(6.5)]
        assert await stores.state.learned_limit() == 7.0
