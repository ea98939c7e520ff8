"""The storage contract against the MongoDB adapter, on the real server of MONGODB_URI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, timedelta

import pytest
from pymongo import MongoClient

from channel_parser.bootstrap.settings import Settings
from channel_parser.bootstrap.storage import Stores, open_storage
from channel_parser.domain.concurrency import LearnedLimit
from tests.contracts.outbox import OutboxContract
from tests.contracts.storage import LEASE, T0, StorageContract, at, post


class TestMongoStorage(StorageContract, OutboxContract):
    @pytest.fixture
    async def stores(self, mongo_uri: str, mongo_database: str) -> AsyncIterator[Stores]:
        settings = Settings(_env_file=None, mongodb_uri=mongo_uri, mongodb_database=mongo_database)
        async with open_storage(settings) as stores:
            assert stores.backend == "mongodb"
            yield stores


async def test_recover_expired_purges_old_claim_tokens(mongo_uri: str, mongo_database: str) -> None:
    """Claim tokens (see adapters.storage.mongo_claims) do not pile up forever."""
    settings = Settings(_env_file=None, mongodb_uri=mongo_uri, mongodb_database=mongo_database)
    async with open_storage(settings) as stores:
        await stores.messages.add(post(1, 1), T0)
        await stores.messages.add(post(1, 2), T0)
        assert await stores.messages.claim_next("w1", T0, LEASE) is not None
        assert await stores.messages.claim_next("w1", at(3600), LEASE) is not None
    with MongoClient(mongo_uri) as client:
        tokens = client[mongo_database].claim_tokens
        assert tokens.count_documents({}) == 2
        async with open_storage(settings) as stores:
            await stores.messages.recover_expired(T0 + timedelta(days=1, minutes=1))
        assert [t["at"].replace(tzinfo=UTC) for t in tokens.find({})] == [at(3600)]


async def test_a_learned_limit_kept_in_the_older_form_is_still_read(
    mongo_uri: str, mongo_database: str
) -> None:
    """Before the ceiling was shared, service_state kept {_id: "learned_limit", value}."""
    settings = Settings(_env_file=None, mongodb_uri=mongo_uri, mongodb_database=mongo_database)
    with MongoClient(mongo_uri) as client:
        client[mongo_database].service_state.insert_one({"_id": "learned_limit", "value": 6.5})
    async with open_storage(settings) as stores:
        assert await stores.state.learned_limit() == 6.5
        seen: list[LearnedLimit | None] = []

        def learn(stored: LearnedLimit | None, others: int) -> LearnedLimit:
            seen.append(stored)
            return LearnedLimit(7.0, 8, 1.0, T0)

        await stores.state.learn_limit("w", learn, T0)
        assert seen == [LearnedLimit(6.5)]
        assert await stores.state.learned_limit() == 7.0


@pytest.mark.parametrize(
    ("doc", "state"),
    [
        ({"state": "QUOTA_EXHAUSTED", "since": "2026-01-25T18:00:00+00:00"}, "quota_exhausted"),
        ({"state": "quota_exhausted", "since": T0, "probe_at": at(300)}, "quota_exhausted"),
        ({"state": "half-open"}, "open"),
        ({"state": "misconfigured", "reason": 42}, "open"),
    ],
)
async def test_a_quota_gate_edited_by_hand_never_stops_the_service(
    mongo_uri: str, mongo_database: str, doc: dict[str, object], state: str
) -> None:
    settings = Settings(_env_file=None, mongodb_uri=mongo_uri, mongodb_database=mongo_database)
    with MongoClient(mongo_uri) as client:
        client[mongo_database].service_state.insert_one({"_id": "quota_gate", **doc})
    async with open_storage(settings) as stores:
        gate = await stores.state.quota_gate()
        assert str(gate.state) == state
        if state == "quota_exhausted":
            assert gate.probe_due(at(300))
