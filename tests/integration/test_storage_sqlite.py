"""The storage contract against the SQLite adapter, on a real file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from channel_parser.bootstrap.settings import Settings
from channel_parser.bootstrap.storage import Stores, open_storage
from tests.contracts.storage import StorageContract


class TestSQLiteStorage(StorageContract):
    @pytest.fixture
    async def stores(self, sqlite_path: Path) -> AsyncIterator[Stores]:
        settings = Settings(_env_file=None, mongodb_uri=None, sqlite_path=sqlite_path)
        async with open_storage(settings) as stores:
            assert stores.backend == "sqlite"
            yield stores
