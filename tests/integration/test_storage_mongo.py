"""The storage contract against the MongoDB adapter, on the real server of MONGODB_URI."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bootstrap.settings import Settings
from bootstrap.storage import Stores, open_storage
from tests.contracts.storage import StorageContract


class TestMongoStorage(StorageContract):
    @pytest.fixture
    async def stores(self, mongo_uri: str, mongo_database: str) -> AsyncIterator[Stores]:
        settings = Settings(_env_file=None, mongodb_uri=mongo_uri, mongodb_database=mongo_database)
        async with open_storage(settings) as stores:
            assert stores.backend == "mongodb"
            yield stores
