"""The durable outbox in MongoDB: the ``outbox`` collection (ADR 0013).

``{_id: entry_id, queue, topic, destination, payload (JSON text), created_at, status,
attempts, next_attempt_at, last_error, finished_at}``. Only the holder of the delivery
lease writes, each write a single-document update by ``_id`` conditional on ``pending``
(atomic on FerretDB too); the payload is kept as JSON text, so that any payload (keys
with dots or dollars included) is stored as it is.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from channel_parser.adapters.storage.mongo_errors import translated
from channel_parser.application.ports.outbox import OutboxStats, TopicStats
from channel_parser.domain.outbox import DeliveryStatus, OutboxEntry

Document = dict[str, Any]
PENDING = str(DeliveryStatus.PENDING)


def _document(entry: OutboxEntry) -> Document:
    return {
        "_id": entry.entry_id,
        "queue": entry.queue,
        "topic": entry.topic,
        "destination": entry.destination,
        "payload": json.dumps(entry.payload, ensure_ascii=False),
        "created_at": entry.created_at,
        **_state(entry),
    }


def _state(entry: OutboxEntry) -> Document:
    return {
        "status": str(entry.status),
        "attempts": entry.attempts,
        "next_attempt_at": entry.next_attempt_at,
        "last_error": entry.last_error,
        "finished_at": entry.finished_at,
    }


def _entry(doc: Document) -> OutboxEntry:
    return OutboxEntry(
        entry_id=doc["_id"],
        topic=doc["topic"],
        destination=doc["destination"],
        payload=json.loads(doc["payload"]),
        created_at=doc["created_at"],
        status=DeliveryStatus(doc["status"]),
        attempts=int(doc.get("attempts", 0)),
        next_attempt_at=doc.get("next_attempt_at"),
        last_error=doc.get("last_error"),
        finished_at=doc.get("finished_at"),
    )


class MongoOutbox:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._c = collection

    async def create_indexes(self) -> None:
        with translated("creating the indexes of the outbox"):
            await self._c.create_index(
                [("status", ASCENDING), ("queue", ASCENDING), ("_id", ASCENDING)],
                name="queue_order",
            )

    async def put(self, entries: Sequence[OutboxEntry]) -> None:
        if not entries:
            return
        with translated("keeping a notification in the outbox"):
            await self._c.insert_many([_document(entry) for entry in entries])

    async def heads(self, limit: int = 100) -> list[OutboxEntry]:
        with translated("reading the outbox"):
            queues = await self._c.distinct("queue", {"status": PENDING})
            found = []
            for queue in queues:
                doc = await self._c.find_one(
                    {"status": PENDING, "queue": queue}, sort=[("_id", ASCENDING)]
                )
                if doc is not None:
                    found.append(_entry(doc))
        return sorted(found, key=lambda e: e.entry_id)[:limit]

    async def save(self, entry: OutboxEntry) -> bool:
        with translated("recording a delivery"):
            result = await self._c.update_one(
                {"_id": entry.entry_id, "status": PENDING}, {"$set": _state(entry)}
            )
        return result.matched_count == 1

    async def get(self, entry_id: str) -> OutboxEntry | None:
        with translated("reading the outbox"):
            doc = await self._c.find_one({"_id": entry_id})
        return None if doc is None else _entry(doc)

    async def stats(self) -> OutboxStats:
        pending = {"status": PENDING}
        with translated("reading the outbox"):
            counts = {
                str(status): await self._c.count_documents({"status": str(status)})
                for status in DeliveryStatus
            }
            oldest = await self._c.find_one(pending, sort=[("created_at", ASCENDING)])
            waiting = await self._c.find_one(
                {**pending, "next_attempt_at": {"$ne": None}}, sort=[("next_attempt_at", ASCENDING)]
            )
            retrying = await self._c.count_documents({**pending, "attempts": {"$gt": 0}})
            by_topic = {}
            for topic in sorted(await self._c.distinct("topic")):
                of = {"topic": topic}
                by_topic[str(topic)] = TopicStats(
                    pending=await self._c.count_documents({**of, **pending}),
                    delivered=await self._c.count_documents(
                        {**of, "status": str(DeliveryStatus.DELIVERED)}
                    ),
                    failed=await self._c.count_documents(
                        {**of, "status": str(DeliveryStatus.FAILED)}
                    ),
                    retrying=await self._c.count_documents(
                        {**of, **pending, "attempts": {"$gt": 0}}
                    ),
                )
            failure = await self._c.find_one(
                {"status": str(DeliveryStatus.FAILED)},
                sort=[("finished_at", DESCENDING), ("_id", DESCENDING)],
            )
        return OutboxStats(
            pending=counts[PENDING],
            delivered=counts[str(DeliveryStatus.DELIVERED)],
            failed=counts[str(DeliveryStatus.FAILED)],
            oldest_pending_at=None if oldest is None else oldest["created_at"],
            next_attempt_at=None if waiting is None else waiting["next_attempt_at"],
            last_failure=None
            if failure is None
            else f"{failure['destination']}: {failure.get('last_error')}",
            retrying=retrying,
            by_topic=by_topic,
        )

    async def purge(self, finished_before: datetime) -> int:
        with translated("purging the outbox"):
            result = await self._c.delete_many(
                {"status": {"$ne": PENDING}, "finished_at": {"$lt": finished_before}}
            )
        return result.deleted_count
