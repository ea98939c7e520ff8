"""The outbox port's contract: every store (in-memory, SQLite, MongoDB) passes it.

Mixed into each store's StorageContract test class, which provides ``stores``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from channel_parser.application.ports.outbox import OutboxStats, TopicStats
from channel_parser.bootstrap.storage import Stores
from channel_parser.domain.outbox import DeliveryStatus, OutboxEntry

T0 = datetime(2026, 1, 25, 18, 42, 51, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def entry(
    n: int, destination: str = "111", topic: str = "admin", payload: dict[str, Any] | None = None
) -> OutboxEntry:
    return OutboxEntry(
        entry_id=f"e{n:04d}",
        topic=topic,
        destination=destination,
        payload=payload if payload is not None else {"text": f"notice {n}", "kind": "k"},
        created_at=at(n),
    )


class OutboxContract:
    @pytest.fixture
    def stores(self) -> Stores:
        raise NotImplementedError

    async def test_an_entry_reads_back_as_it_was_put(self, stores: Stores) -> None:
        outbox = stores.outbox
        payload = {"text": "⚠️ Канал недоступен!\n\nтекст", "kind": "channel", "n": [1, {"a": None}]}
        await outbox.put([entry(1, payload=payload)])
        got = await outbox.get("e0001")
        assert got == entry(1, payload=payload)
        assert got is not None and got.status is DeliveryStatus.PENDING and got.attempts == 0
        assert await outbox.get("nope") is None

    async def test_heads_are_the_oldest_pending_entry_of_each_queue(self, stores: Stores) -> None:
        outbox = stores.outbox
        await outbox.put([entry(3, "222"), entry(1, "111"), entry(2, "111")])
        await outbox.put([entry(4, "111", topic="results")])
        heads = await outbox.heads()
        assert sorted((h.topic, h.destination, h.entry_id) for h in heads) == [
            ("admin", "111", "e0001"),
            ("admin", "222", "e0003"),
            ("results", "111", "e0004"),
        ]
        assert len(await outbox.heads(limit=2)) == 2

    async def test_a_delivered_head_makes_the_next_one_the_head(self, stores: Stores) -> None:
        outbox = stores.outbox
        await outbox.put([entry(1), entry(2), entry(3)])
        order = []
        for second in range(3):
            [head] = await outbox.heads()
            head.delivered(at(10 + second))
            assert await outbox.save(head)
            order.append(head.entry_id)
        assert order == ["e0001", "e0002", "e0003"]
        assert await outbox.heads() == []
        got = await outbox.get("e0002")
        assert got is not None and got.status is DeliveryStatus.DELIVERED
        assert got.finished_at == at(11)

    async def test_a_head_waiting_for_its_retry_time_holds_its_queue(self, stores: Stores) -> None:
        outbox = stores.outbox
        await outbox.put([entry(1), entry(2)])
        [head] = await outbox.heads()
        head.retry_at(at(134), "429 Too Many Requests: retry after 134")
        assert await outbox.save(head)
        [still] = await outbox.heads()
        assert still.entry_id == "e0001" and not still.is_due(at(133)) and still.is_due(at(134))
        assert (still.attempts, still.next_attempt_at) == (1, at(134))
        assert still.last_error == "429 Too Many Requests: retry after 134"

    async def test_a_given_up_entry_is_kept_with_its_reason(self, stores: Stores) -> None:
        outbox = stores.outbox
        await outbox.put([entry(1), entry(2)])
        [head] = await outbox.heads()
        head.give_up("Bad Request: chat not found", at(5))
        assert await outbox.save(head)
        [head] = await outbox.heads()
        assert head.entry_id == "e0002"
        failed = await outbox.get("e0001")
        assert failed is not None and failed.status is DeliveryStatus.FAILED
        assert failed.last_error == "Bad Request: chat not found" and failed.finished_at == at(5)

    async def test_save_writes_only_a_pending_entry(self, stores: Stores) -> None:
        outbox = stores.outbox
        await outbox.put([entry(1)])
        mine = await outbox.get("e0001")
        theirs = await outbox.get("e0001")
        assert mine is not None and theirs is not None
        theirs.delivered(at(2))
        assert await outbox.save(theirs)
        mine.retry_at(at(60), "timeout")
        assert not await outbox.save(mine)
        got = await outbox.get("e0001")
        assert got is not None and got.status is DeliveryStatus.DELIVERED
        assert not await outbox.save(entry(9))  # never put

    async def test_stats(self, stores: Stores) -> None:
        outbox = stores.outbox
        assert await outbox.stats() == OutboxStats()
        await outbox.put([entry(1, "111"), entry(2, "111"), entry(3, "222"), entry(4, "333")])
        await outbox.put([entry(5, "jobs", topic="result:jobs")])
        first = await outbox.get("e0001")
        assert first is not None
        first.delivered(at(10))
        await outbox.save(first)
        retried = await outbox.get("e0003")
        assert retried is not None
        retried.retry_at(at(300), "HTTP 502")
        await outbox.save(retried)
        failed = await outbox.get("e0004")
        assert failed is not None
        failed.give_up("Forbidden: bot was blocked by the user", at(20))
        await outbox.save(failed)
        assert await outbox.stats() == OutboxStats(
            pending=3,
            delivered=1,
            failed=1,
            oldest_pending_at=at(2),
            next_attempt_at=at(300),
            last_failure="333: Forbidden: bot was blocked by the user",
            retrying=1,
            by_topic={
                "admin": TopicStats(pending=2, delivered=1, failed=1, retrying=1),
                "result:jobs": TopicStats(pending=1),
            },
        )

    async def test_purge_forgets_only_old_finished_entries(self, stores: Stores) -> None:
        outbox = stores.outbox
        await outbox.put([entry(1), entry(2, "222"), entry(3, "333"), entry(4, "444")])
        for entry_id, seconds in (("e0001", 10), ("e0002", 100)):
            got = await outbox.get(entry_id)
            assert got is not None
            got.delivered(at(seconds))
            await outbox.save(got)
        failed = await outbox.get("e0003")
        assert failed is not None
        failed.give_up("gone", at(20))
        await outbox.save(failed)
        assert await outbox.purge(at(50)) == 2
        assert await outbox.get("e0001") is None and await outbox.get("e0003") is None
        assert await outbox.get("e0002") is not None
        assert await outbox.get("e0004") is not None  # pending: never purged
        assert await outbox.purge(at(50)) == 0
