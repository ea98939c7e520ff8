"""The storage contract against the in-memory fakes the unit tests use."""

from __future__ import annotations

import pytest

from channel_parser.bootstrap.storage import Stores
from tests.contracts.outbox import OutboxContract
from tests.contracts.storage import StorageContract
from tests.fakes.outbox import InMemoryOutbox
from tests.fakes.storage import (
    InMemoryChannelRegistry,
    InMemoryMessageRepository,
    InMemoryParseCache,
    InMemoryServiceState,
)


class TestInMemoryStorage(StorageContract, OutboxContract):
    @pytest.fixture
    def stores(self) -> Stores:
        return Stores(
            InMemoryMessageRepository(),
            InMemoryParseCache(),
            InMemoryChannelRegistry(),
            InMemoryServiceState(),
            "memory",
            outbox=InMemoryOutbox(),
        )
