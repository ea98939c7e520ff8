"""The parse cache, the channel registry and the shared service state in MongoDB."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from channel_parser.adapters.storage.gate_document import read_gate
from channel_parser.adapters.storage.mongo_errors import translated
from channel_parser.adapters.storage.mongo_permits import MongoPermits
from channel_parser.adapters.storage.mongo_usage import MongoUsageLedger
from channel_parser.application.ports.storage import (
    ChannelInfo,
    ChannelMode,
    Learn,
    PermitView,
    SlotTaken,
)
from channel_parser.domain.concurrency import ConcurrencyLimit
from channel_parser.domain.failures import NotificationKind
from channel_parser.domain.gate import QuotaGate
from channel_parser.domain.throttle import Decide, ThrottleSlot

Document = dict[str, Any]

GATE_ID = "quota_gate"
ORPHANED_AFTER = timedelta(minutes=5)  # a slot or lease token no winner acted on


class MongoParseCache:
    """Collection ``parse_cache``: ``{_id: fingerprint, result, stored_at}``."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._c = collection

    async def get(self, fingerprint: str) -> dict[str, Any] | None:
        with translated("reading the parse cache"):
            doc = await self._c.find_one({"_id": fingerprint})
        return None if doc is None else doc["result"]

    async def put(self, fingerprint: str, result: dict[str, Any], now: datetime) -> None:
        with translated("writing the parse cache"):
            await self._c.replace_one(
                {"_id": fingerprint}, {"result": result, "stored_at": now}, upsert=True
            )


class MongoChannelRegistry:
    """Collection ``channels``: ``{_id: channel_id, available, title, reason, checked_at}``."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._c = collection

    async def set_availability(
        self,
        channel_id: int,
        available: bool,
        now: datetime,
        reason: str | None = None,
        title: str | None = None,
        username: str | None = None,
    ) -> bool:
        fields: Document = {
            "available": available,
            "reason": None if available else reason,
            "checked_at": now,
        }
        if title is not None:
            fields["title"] = title
        if username is not None:
            fields["username"] = username
        with translated("recording a channel's availability"):
            before = await self._c.find_one_and_update(
                {"_id": channel_id},
                {"$set": fields},
                upsert=True,
                return_document=ReturnDocument.BEFORE,
            )
        return before is None or bool(before.get("available")) != available

    async def unavailable(self) -> frozenset[int]:
        with translated("reading unavailable channels"):
            docs = await self._c.find({"available": False}, projection={"_id": True}).to_list()
        return frozenset(int(doc["_id"]) for doc in docs)

    async def channels(self) -> list[ChannelInfo]:
        with translated("reading channels"):
            docs = await self._c.find({}).sort("_id", ASCENDING).to_list()
        return [_channel_info(doc) for doc in docs]

    async def channel(self, channel_id: int) -> ChannelInfo | None:
        with translated("reading a channel"):
            doc = await self._c.find_one({"_id": channel_id})
        return None if doc is None else _channel_info(doc)

    async def record_read(
        self, channel_id: int, mode: ChannelMode, now: datetime, read_up_to: int | None = None
    ) -> None:
        """Only the listener writes a channel's reads: a plain ``$max`` is enough."""
        update: Document = {
            "$set": {"mode": str(mode), "last_read_at": now},
            "$setOnInsert": {"available": True, "checked_at": now},
        }
        if read_up_to is not None:
            update["$max"] = {"read_up_to": read_up_to}
        with translated("recording a channel's read"):
            await self._c.update_one({"_id": channel_id}, update, upsert=True)


def _channel_info(doc: Document) -> ChannelInfo:
    mode = doc.get("mode")
    return ChannelInfo(
        channel_id=int(doc["_id"]),
        available=bool(doc["available"]),
        title=doc.get("title"),
        reason=doc.get("reason"),
        checked_at=doc.get("checked_at"),
        mode=ChannelMode(mode) if mode else None,
        read_up_to=doc.get("read_up_to"),
        last_read_at=doc.get("last_read_at"),
        username=doc.get("username"),
    )


class MongoServiceState(MongoUsageLedger):
    """Collection ``service_state``: one document per piece of shared state, changed only
    by single-document atomic operations so that racing workers agree; the usage ledger
    in collection ``llm_usage`` (mongo_usage), the learned limit and its permits in
    collection ``concurrency`` (mongo_permits)."""

    def __init__(
        self, collection: AsyncCollection[Document], concurrency: AsyncCollection[Document]
    ) -> None:
        self._c = collection
        self._init_usage(collection.database["llm_usage"])
        self._permits = MongoPermits(concurrency, collection)

    async def quota_gate(self) -> QuotaGate:
        with translated("reading the quota gate"):
            doc = await self._c.find_one({"_id": GATE_ID})
        if doc is None:
            return QuotaGate()
        return read_gate(doc, _stored_time)

    async def set_quota_gate(self, gate: QuotaGate) -> None:
        doc = {
            "state": str(gate.state),
            "since": gate.since,
            "code": gate.code,
            "reason": gate.reason,
            "probe_at": gate.probe_at,
            "closed_with": gate.closed_with,
        }
        with translated("writing the quota gate"):
            await self._c.replace_one({"_id": GATE_ID}, doc, upsert=True)

    async def _win(self, doc_id: str, generation: int, owner: str, now: datetime) -> bool:
        """Whether this caller is the one that moves *doc_id* past *generation*: the insert
        of a token with a unique ``_id`` succeeds for exactly one racer (see mongo_claims:
        FerretDB's find-and-modify is not atomic, an insert is)."""
        token = {"_id": f"token:{doc_id}#{generation}", "owner": owner, "at": now}
        try:
            await self._c.insert_one(token)
        except DuplicateKeyError:
            # A winner moves *doc_id* on within milliseconds; an older token was orphaned
            # (the store went away, or the winner died, in between) and would block
            # *doc_id* for good. Only a token that old is removed, so one racer wins.
            orphaned = {"_id": token["_id"], "at": {"$lt": now - ORPHANED_AFTER}}
            if not (await self._c.delete_one(orphaned)).deleted_count:
                return False
            try:
                await self._c.insert_one(token)
            except DuplicateKeyError:
                return False
        return True

    async def take_notification_slot(
        self, kind: NotificationKind, now: datetime, decide: Decide
    ) -> SlotTaken:
        """The slot is ``{_id: "notify:<kind>", last_sent, gen}``; a suppression in the
        period that began with generation g is a mark ``{suppressed_of, gen: g}``.

        The throttle's *decide* says whether to race for the slot; the count of suppressed
        ones is kept in the marks (FerretDB loses concurrent ``$inc`` updates), so decide
        sees the slot's last sending only and the winner counts the marks."""
        slot_id = f"notify:{kind}"
        with translated("taking a notification slot"):
            slot = await self._c.find_one({"_id": slot_id})
            generation = 0 if slot is None else int(slot.get("gen", 0))
            decision = decide(ThrottleSlot(None if slot is None else slot["last_sent"]))
            sent_at = decision.slot.last_sent_at
            if decision.send and await self._win(slot_id, generation, str(kind), now):
                await self._c.update_one(
                    {"_id": slot_id},
                    {"$set": {"last_sent": sent_at, "gen": generation + 1}},
                    upsert=True,
                )
                marks = {"suppressed_of": slot_id, "gen": {"$lte": generation}}
                suppressed = await self._c.count_documents(marks)
                await self._c.delete_many(marks)
                return SlotTaken(True, suppressed)
            # Lost the race: the period the winner just began; else the current one. One
            # inserted mark per suppression.
            period = generation + 1 if decision.send else generation
            await self._c.insert_one(
                {
                    "_id": f"{slot_id}#{period}:{uuid.uuid4().hex}",
                    **{"suppressed_of": slot_id, "gen": period},
                }
            )
        return SlotTaken(False, 0)

    async def clear_notification_slot(self, kind: NotificationKind) -> None:
        """The slot keeps its generation (racing winners stay consistent) and forgets its
        last sending; the marks of what was suppressed before go with it."""
        slot_id = f"notify:{kind}"
        with translated("clearing a notification slot"):
            slot = await self._c.find_one_and_update(
                {"_id": slot_id}, {"$set": {"last_sent": None}}
            )
            if slot is not None:
                generation = int(slot.get("gen", 0))
                await self._c.delete_many({"suppressed_of": slot_id, "gen": {"$lte": generation}})

    async def learned_limit(self) -> float | None:
        learned = await self._permits.learned()
        return None if learned is None else learned.limit

    async def take_permits(
        self, owner: str, want: int, limit: ConcurrencyLimit, now: datetime, lease: timedelta
    ) -> PermitView:
        return await self._permits.take(owner, want, limit, now, lease)

    async def return_permits(
        self, owner: str, numbers: Collection[int], now: datetime
    ) -> PermitView:
        return await self._permits.give_back(owner, numbers, now)

    async def learn_limit(self, owner: str, learn: Learn, now: datetime) -> PermitView:
        return await self._permits.learn(owner, learn, now)

    async def acquire_lease(self, name: str, owner: str, now: datetime, ttl: timedelta) -> bool:
        lease_id = f"lease:{name}"
        with translated("taking a named lease"):
            held = await self._c.find_one({"_id": lease_id})
            if held is not None and held.get("owner") == owner:  # a renewal
                renewed = await self._c.update_one(  # only while unexpired: once it has
                    # expired, someone else may be winning it; then we must win it again
                    {"_id": lease_id, "owner": owner, "until": {"$gt": now}},
                    {"$set": {"until": now + ttl}},
                )
                if renewed.matched_count:
                    return True
                held = await self._c.find_one({"_id": lease_id})
            if held is not None and held.get("owner") is not None and held["until"] > now:
                return False
            generation = 0 if held is None else int(held.get("gen", 0))
            if not await self._win(lease_id, generation, owner, now):
                return False
            await self._c.replace_one(
                {"_id": lease_id},
                {"owner": owner, "until": now + ttl, "gen": generation + 1},
                upsert=True,
            )
        return True

    async def release_lease(self, name: str, owner: str) -> None:
        with translated("releasing a named lease"):
            await self._c.update_one(
                {"_id": f"lease:{name}", "owner": owner}, {"$set": {"owner": None}}
            )


def _stored_time(value: object) -> datetime | None:
    """A BSON date (aware: the client is tz_aware), or ISO text a hand may have written."""
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    raise TypeError(f"a time is stored as a date, not {type(value).__name__}")
