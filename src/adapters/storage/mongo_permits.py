"""The shared concurrency limiter in MongoDB: collection ``concurrency`` holds the learned
limit ``{_id: "limit", limit, ceiling, weight, weighed_at, v}`` and one document per
permit slot ``{_id: <number>, owner, until, tenure}``.

FerretDB (the test server) runs find-and-modify as a read and a separate write, and a
filtered delete too: a delete filtered on a holding's ``tenure`` can remove a newer
holding of the same slot written between its read and its write (115 times in 300 tight
races, measured). So who gets a slot is decided by the one write every MongoDB-protocol
server makes atomic: the insert of a unique ``_id``. A slot nobody has held is inserted.
A slot whose lease ran out is taken over by the worker that inserts the takeover mark
``{_id: "takeover:<tenure>", at}`` of that holding; only that worker deletes the holding
(its ``tenure``), then inserts its own, so no delete of an old holding can meet a new
one. Marks are forgotten after ``MARK_LEASES`` leases. A holder renews only while its
lease has not run out (``until > now``, the domain's "held"). The learned limit is
replaced by a compare-and-set on its version ``v``.

Left on FerretDB: a holder that renews (or gives back) at the very moment its lease runs
out, while another takes the slot over, may overwrite the new holding; both then hold it
until the next renewal shows one of them it is lost. Renewals come every third of a
lease, so this needs a store that stalls for two thirds of one. A real MongoDB applies
each filtered write atomically and has neither race.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from channel_parser.adapters.storage.mongo_errors import translated
from channel_parser.application.ports.storage import Learn, PermitView
from channel_parser.domain.concurrency import ConcurrencyLimit, LearnedLimit
from channel_parser.domain.permits import PermitSlot, PermitTable

log = logging.getLogger(__name__)

Document = dict[str, Any]

LIMIT_ID = "limit"
OLD_LIMIT_ID = "learned_limit"  # in service_state, as {value: <number>}, before 0012
CAS_TRIES = 5  # racing lessons: after this many lost races, this one is dropped
MARK = "takeover:"  # the _id prefix of a takeover mark
MARK_LEASES = 10  # a takeover mark is forgotten after this many leases


def learned_of(doc: Document | None) -> LearnedLimit | None:
    if doc is None:
        return None
    if "value" in doc and "limit" not in doc:  # the form before the ceiling was shared
        return LearnedLimit(float(doc["value"]))
    return LearnedLimit(
        float(doc["limit"]),
        doc.get("ceiling"),
        float(doc.get("weight", 0.0)),
        doc.get("weighed_at"),
        int(doc.get("at_ceiling", 0)),
        doc.get("restore"),
        doc.get("restore_until"),
    )


def _fields(learned: LearnedLimit) -> Document:
    return {
        "limit": learned.limit,
        "ceiling": learned.ceiling,
        "weight": learned.weight,
        "weighed_at": learned.weighed_at,
        "at_ceiling": learned.at_ceiling,
        "restore": learned.restore,
        "restore_until": learned.restore_until,
    }


class MongoPermits:
    def __init__(
        self, collection: AsyncCollection[Document], state: AsyncCollection[Document]
    ) -> None:
        self._c = collection
        self._state = state  # service_state: where an older version kept the learned limit

    async def learned(self) -> LearnedLimit | None:
        with translated("reading the learned limit"):
            return await self._stored(await self._c.find_one({"_id": LIMIT_ID}))

    async def take(
        self, owner: str, want: int, limit: ConcurrencyLimit, now: datetime, lease: timedelta
    ) -> PermitView:
        until = now + lease
        with translated("taking concurrency permits"):
            limit_doc, slots = await self._load()
            learned = await self._stored(limit_doc)
            table = _table(slots)
            mine = set(table.held_by(owner, now))
            if mine:
                renewed = await self._c.update_many(
                    {"_id": {"$in": sorted(mine)}, "owner": owner, "until": {"$gt": now}},
                    {"$set": {"until": until}},
                )
                if renewed.matched_count != len(mine):  # one ran out meanwhile: see which
                    _, slots = await self._load()
                    mine = set(_table(slots).held_by(owner, now))
            by_number = {doc["_id"]: doc for doc in slots}
            won = 0
            took_over = False
            for number in table.free(limit.with_learned(learned).permits, now):
                if won >= want:
                    break
                seen = by_number.get(number)
                if await self._win(number, seen, owner, now, until):
                    mine.add(number)
                    won += 1
                    took_over = took_over or seen is not None
            if took_over:  # marks are rare (a holder died or stalled): forget the old ones
                await self._c.delete_many(
                    {"_id": {"$regex": f"^{MARK}"}, "at": {"$lt": now - MARK_LEASES * lease}}
                )
        return PermitView(learned, frozenset(mine), len(table.held(now)) + won)

    async def _win(
        self, number: int, seen: Document | None, owner: str, now: datetime, until: datetime
    ) -> bool:
        if seen is not None:  # its lease ran out: one worker takes it over, by its mark
            try:
                await self._c.insert_one({"_id": f"{MARK}{seen['tenure']}", "at": now})
            except DuplicateKeyError:
                return False  # another worker is taking it over
            await self._c.delete_one({"_id": number, "tenure": seen["tenure"]})
        try:
            await self._c.insert_one(
                {"_id": number, "owner": owner, "until": until, "tenure": uuid.uuid4().hex}
            )
        except DuplicateKeyError:
            return False  # another worker won it
        return True

    async def give_back(self, owner: str, numbers: Collection[int], now: datetime) -> PermitView:
        with translated("returning concurrency permits"):
            for number in numbers:
                await self._c.delete_one({"_id": number, "owner": owner})
            limit_doc, slots = await self._load()
            table = _table(slots)
            return PermitView(
                await self._stored(limit_doc), table.held_by(owner, now), len(table.held(now))
            )

    async def learn(self, owner: str, apply: Learn, now: datetime) -> PermitView:
        with translated("keeping the learned concurrency limit"):
            for _ in range(CAS_TRIES):
                limit_doc, slots = await self._load()
                table = _table(slots)
                learned = apply(await self._stored(limit_doc), table.held_by_others(owner, now))
                if await self._replace(limit_doc, learned):
                    return PermitView(learned, table.held_by(owner, now), len(table.held(now)))
            log.debug("the learned limit changed under %d tries; this lesson is dropped", CAS_TRIES)
            limit_doc, slots = await self._load()
            table = _table(slots)
            return PermitView(
                await self._stored(limit_doc), table.held_by(owner, now), len(table.held(now))
            )

    async def _replace(self, current: Document | None, learned: LearnedLimit) -> bool:
        """Compare-and-set on the version: False when another worker changed it first."""
        if current is None:
            try:
                await self._c.insert_one({"_id": LIMIT_ID, **_fields(learned), "v": 1})
            except DuplicateKeyError:
                return False
            return True
        version = int(current.get("v", 0))
        replaced = await self._c.update_one(
            {"_id": LIMIT_ID, "v": version}, {"$set": {**_fields(learned), "v": version + 1}}
        )
        return bool(replaced.matched_count)

    async def _load(self) -> tuple[Document | None, list[Document]]:
        """The learned limit's document and the slots', in one round trip."""
        docs = await self._c.find({}).to_list()
        limit = next((doc for doc in docs if doc["_id"] == LIMIT_ID), None)
        return limit, [doc for doc in docs if isinstance(doc["_id"], int)]  # not the marks

    async def _stored(self, limit_doc: Document | None) -> LearnedLimit | None:
        if limit_doc is not None:
            return learned_of(limit_doc)
        return learned_of(await self._state.find_one({"_id": OLD_LIMIT_ID}))


def _table(docs: list[Document]) -> PermitTable:
    return PermitTable.of(PermitSlot(int(doc["_id"]), doc["owner"], doc["until"]) for doc in docs)
