"""SPEC.md's two monitoring queries, run as written through PyMongo on documents the
MongoDB adapter wrote; and the FAQ's reset by hand, done in the shell's way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from channel_parser.bootstrap.settings import Settings
from channel_parser.bootstrap.storage import Stores, open_storage
from channel_parser.domain.message import MessageKey
from channel_parser.domain.status import MessageStatus
from tests.contracts.storage import LEASE, QUOTA, T0, at, in_retry, in_state, post


@pytest.fixture
async def stores(mongo_uri: str, mongo_database: str) -> AsyncIterator[Stores]:
    settings = Settings(_env_file=None, mongodb_uri=mongo_uri, mongodb_database=mongo_database)
    async with open_storage(settings) as opened:
        yield opened


@pytest.fixture
async def db(mongo_uri: str, mongo_database: str) -> AsyncIterator[Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri, tz_aware=True)
    try:
        yield client[mongo_database]
    finally:
        await client.close()


async def _fill(stores: Stores) -> None:
    """Retry counts 2, 1, 2, 5 with retry_after 120 s, 30 s, 120 s, 480 s after their failure;
    plus one pending, one done and one error message that the queries must leave out."""
    repo = stores.messages
    await in_retry(repo, 1, 1, T0, attempts=2)  # retry_after T0+60
    await in_retry(repo, 1, 2, at(1), attempts=1)  # at(1)+30
    await in_retry(repo, 1, 3, at(2), attempts=2)  # at(2)+60
    await in_retry(repo, 1, 4, at(3), attempts=5)  # at(3)+480
    await in_state(repo, 1, 5, at(4), None)
    await in_state(repo, 1, 6, at(5), QUOTA)
    await repo.add(post(2, 1), at(6))


async def test_retry_queue_query_lists_retries_by_due_time(stores: Stores, db: Any) -> None:
    await _fill(stores)
    # db.incoming_messages.find({processing_status: 'retry'}).sort({retry_after: 1})
    docs = (
        await db.incoming_messages.find({"processing_status": "retry"})
        .sort({"retry_after": 1})
        .to_list()
    )
    assert [(d["message_id"], d["retry_count"], d["retry_after"]) for d in docs] == [
        (2, 1, at(31)),
        (1, 2, at(60)),
        (3, 2, at(62)),
        (4, 5, at(483)),
    ]


async def test_retry_histogram_query_counts_by_retry_count(stores: Stores, db: Any) -> None:
    await _fill(stores)
    rows = await (
        await db.incoming_messages.aggregate(
            [
                {"$match": {"processing_status": "retry"}},
                {"$group": {"_id": "$retry_count", "count": {"$sum": 1}}},
                {"$sort": {"_id": 1}},
            ]
        )
    ).to_list()
    assert rows == [{"_id": 1, "count": 1}, {"_id": 2, "count": 2}, {"_id": 5, "count": 1}]
    assert (await stores.messages.stats()).retry_histogram == {1: 1, 2: 2, 5: 1}


async def test_requeue_removes_retry_count_from_the_document(stores: Stores, db: Any) -> None:
    await _fill(stores)
    assert await stores.messages.requeue(at(10), statuses=[MessageStatus.RETRY]) == 4
    doc = await db.incoming_messages.find_one({"channel_id": 1, "message_id": 4})
    assert doc["processing_status"] == "pending"
    assert "retry_count" not in doc and "retry_after" not in doc


async def test_a_reset_by_hand_in_the_shell_is_read_back(stores: Stores, db: Any) -> None:
    """SPEC.md's FAQ: set the status back to pending and remove retry_count."""
    await _fill(stores)
    await db.incoming_messages.update_one(
        {"channel_id": 1, "message_id": 4},
        {"$set": {"processing_status": "pending"}, "$unset": {"retry_count": ""}},
    )
    got = await stores.messages.get(MessageKey(1, 4))
    assert got is not None and got.status is MessageStatus.PENDING and got.retry_count == 0
    claimed = await stores.messages.claim_next("w1", at(7), LEASE)
    assert claimed is not None and claimed.key == MessageKey(1, 4)
