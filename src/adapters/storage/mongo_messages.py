"""MongoMessageRepository: the ``incoming_messages`` collection.

Every change of state is a conditional update, atomic per document on any MongoDB-protocol
server (a claim is won by a token first, see mongo_claims): its filter and its
``$set``/``$unset`` are the domain's rules (domain.message_rules) translated, never a second
copy of them (ADR 0010)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from channel_parser.adapters.storage.mongo_claims import CLAIM_ORDER, TOKEN_KEEP, claim_oldest
from channel_parser.adapters.storage.mongo_documents import (
    changes_update,
    document_id,
    due_filter,
    filter_document,
    from_document,
    key_filter,
    stale_filter,
    state_filter,
    state_update,
    status_field,
    status_in,
    to_document,
)
from channel_parser.adapters.storage.mongo_errors import translated
from channel_parser.adapters.storage.unreadable import UnreadableRecords
from channel_parser.application.ports.storage import (
    IngestOutcome,
    MessageFilter,
    MessageStats,
    NewPost,
    StaleResults,
)
from channel_parser.domain.failures import FailureKind
from channel_parser.domain.message import IncomingMessage, MessageKey
from channel_parser.domain.message_rules import (
    EDITS_IN_PLACE,
    LEASED,
    EditRule,
    back_to_waiting_changes,
    claim_changes,
    edit_changes,
    edit_requeue_changes,
    requeue_changes,
)
from channel_parser.domain.status import MessageStatus, all_spellings, parse_status

Document = dict[str, Any]
DUPLICATE_KEY = 11000

# message_rules.tried_before (retry_count > 0; absent counts as 0) as a filter, both ways.
TRIED_BEFORE: dict[bool, Document] = {
    True: {"retry_count": {"$gt": 0}},
    False: {"retry_count": {"$not": {"$gt": 0}}},
}

KEY_ORDER = [("channel_id", ASCENDING), ("message_id", ASCENDING)]

INDEXES: list[tuple[list[tuple[str, int]], dict[str, Any]]] = [
    ([("channel_id", ASCENDING), ("message_id", ASCENDING)], {"unique": True, "name": "identity"}),
    ([("processing_status", ASCENDING), *CLAIM_ORDER], {"name": "claim_order"}),
    ([("processing_status", ASCENDING), ("retry_after", ASCENDING)], {"name": "status_due"}),
    ([("processing_status", ASCENDING), ("lease_until", ASCENDING)], {"name": "lease"}),
    (
        [("processing_status", ASCENDING), ("done_at", ASCENDING), *KEY_ORDER],
        {"name": "parsed_order"},
    ),
]


class MongoMessageRepository:
    def __init__(
        self, collection: AsyncCollection[Document], tokens: AsyncCollection[Document]
    ) -> None:
        self._c = collection
        self._tokens = tokens  # see mongo_claims
        self._unreadable: UnreadableRecords[str] = UnreadableRecords("message")

    def _read(self, doc: Document) -> IncomingMessage | None:
        """The document's message, or None (one WARNING naming it) when it cannot be read."""
        doc_id = str(doc.get("_id"))
        return self._unreadable.read(doc_id, doc_id, doc, from_document)

    async def create_indexes(self) -> None:
        with translated("creating the indexes of incoming_messages"):
            for keys, options in INDEXES:
                await self._c.create_index(keys, **options)

    async def add(
        self, post: NewPost, now: datetime, edits: EditRule = EDITS_IN_PLACE
    ) -> IngestOutcome:
        message = post.to_message(now)
        key = key_filter(message.key)
        # IncomingMessage.edit_text: a changed text only, in place or queued again as
        # *edits* says for the stored status: one conditional update per way.
        ways = [
            (edits.in_place, edit_changes, IngestOutcome.UPDATED),
            (edits.requeued, edit_requeue_changes, IngestOutcome.REQUEUED),
        ]
        with translated("storing a post"):
            try:
                await self._c.insert_one(to_document(message))
                return IngestOutcome.STORED
            except DuplicateKeyError:
                pass
            for statuses, changes, outcome in ways:
                if not statuses:
                    continue
                edited = await self._c.update_one(
                    {
                        **key,
                        **status_in(statuses),
                        "text": {"$ne": post.text},
                    },
                    changes_update(changes(post.text, now)),
                )
                if edited.modified_count:
                    return outcome
        return IngestOutcome.UNCHANGED

    async def add_many(
        self, posts: Sequence[NewPost], now: datetime, edits: EditRule = EDITS_IN_PLACE
    ) -> list[IngestOutcome]:
        """One read of the batch's ids and one insert of the new ones; a post stored before
        with another text is edited on its own, as *edits* says (rare)."""
        if not posts:
            return []
        ids = [document_id(MessageKey(p.channel_id, p.message_id)) for p in posts]
        with translated("storing posts"):
            found = self._c.find({"_id": {"$in": ids}}, projection={"text": True})
            stored = {doc["_id"]: doc.get("text") async for doc in found}
            fresh: dict[str, Document] = {}
            outcomes: list[IngestOutcome | None] = []
            for post, doc_id in zip(posts, ids, strict=True):
                if doc_id in stored:
                    same = stored[doc_id] == post.text
                    outcomes.append(IngestOutcome.UNCHANGED if same else None)
                elif doc_id in fresh:  # twice in one batch: the later text, as add would
                    same = fresh[doc_id]["text"] == post.text
                    fresh[doc_id] = to_document(post.to_message(now))
                    outcomes.append(IngestOutcome.UNCHANGED if same else IngestOutcome.UPDATED)
                else:
                    fresh[doc_id] = to_document(post.to_message(now))
                    outcomes.append(IngestOutcome.STORED)
            raced = await self._insert_new(list(fresh.values()))
        done: list[IngestOutcome] = []
        for post, doc_id, known in zip(posts, ids, outcomes, strict=True):
            if known is not None and doc_id not in raced:
                done.append(known)
                continue
            # stored before with another text, or by another process meanwhile
            done.append(await self.add(post, now, edits))
            raced.discard(doc_id)
        return done

    async def _insert_new(self, docs: list[Document]) -> set[str]:
        """Insert; the ids another process stored first (a duplicate key) are returned."""
        if not docs:
            return set()
        try:
            await self._c.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            return {docs[e["index"]]["_id"] for e in errors}
        return set()

    async def get(self, key: MessageKey) -> IncomingMessage | None:
        with translated("reading a message"):
            doc = await self._c.find_one(key_filter(key))
        return None if doc is None else self._read(doc)

    async def claim_next(
        self,
        owner: str,
        now: datetime,
        lease: timedelta,
        exclude_channels: Collection[int] = (),
    ) -> IncomingMessage | None:
        query = due_filter(now)
        if exclude_channels:
            query["channel_id"] = {"$nin": list(exclude_channels)}
        claim = changes_update(claim_changes(owner, now, lease))
        unreadable = self._unreadable

        def readable(candidate: Document) -> bool:
            return self._read(candidate) is not None

        with translated("claiming a message"):
            doc = await claim_oldest(
                self._c, self._tokens, query, owner, now, lease, claim, unreadable.keys, readable
            )
        # Read before the claim; were it edited out of shape since, its lease runs out.
        return None if doc is None else self._read(doc)

    def _held(self, key: MessageKey, owner: str) -> Document:
        """IncomingMessage.leased_by(owner)."""
        return {**key_filter(key), **status_field(LEASED), "lease_owner": owner}

    async def save(self, message: IncomingMessage, owner: str) -> bool:
        with translated("saving a message"):
            result = await self._c.update_one(self._held(message.key, owner), state_update(message))
            if result.matched_count == 1:
                return True
            # Written already? A retry after the reply to this very update was lost (the
            # connection dropped after the server applied it) finds it saved, not lost.
            same = {**key_filter(message.key), **state_filter(message)}
            return await self._c.count_documents(same, limit=1) == 1

    async def renew_lease(self, key: MessageKey, owner: str, until: datetime) -> bool:
        with translated("renewing a lease"):
            result = await self._c.update_one(
                self._held(key, owner), {"$set": {"lease_until": until}}
            )
        return result.matched_count == 1

    async def recover_expired(self, now: datetime) -> int:
        # IncomingMessage.lease_expired, then recover_stuck's changes, which depend on
        # whether an attempt was counted: one update_many per answer.
        expired = {**status_in([LEASED]), "lease_until": {"$lte": now}}
        recovered = 0
        with translated("recovering expired leases"):
            # The periodic check also purges claim tokens too old to matter (mongo_claims).
            await self._tokens.delete_many({"at": {"$lt": now - TOKEN_KEEP}})
            # The $not filter never matches a retried one whose lease expired in between.
            for tried in (True, False):
                result = await self._c.update_many(
                    {**expired, **TRIED_BEFORE[tried]},
                    changes_update(back_to_waiting_changes(tried, now)),
                )
                recovered += result.modified_count
        return recovered

    async def requeue(
        self,
        now: datetime,
        statuses: Collection[MessageStatus] = (),
        kinds: Collection[FailureKind] = (),
        *,
        where: MessageFilter | None = None,
        stale: StaleResults | None = None,
    ) -> int:
        chosen: list[Document] = []
        if statuses:
            chosen.append(status_in(statuses))
        if kinds:
            chosen.append({"last_error.kind": {"$in": [str(k) for k in kinds]}})
        if stale is not None:
            chosen.append(stale_filter(stale))
        if not chosen:
            return 0
        # IncomingMessage.requeue refuses a leased message.
        within = filter_document(attrs.evolve(where or MessageFilter(), status=None))
        query = {"$and": [_not_leased(), {"$or": chosen}, within]}
        with translated("requeueing messages"):
            result = await self._c.update_many(query, changes_update(requeue_changes(now)))
        return result.matched_count

    async def reset(self, key: MessageKey, now: datetime) -> bool:
        query = {**key_filter(key), **_not_leased()}
        with translated("resetting a message"):
            result = await self._c.update_one(query, changes_update(requeue_changes(now)))
        return result.matched_count == 1

    async def stats(self) -> MessageStats:
        with translated("computing statistics"):
            by_status = {s: 0 for s in MessageStatus}
            unreadable = 0
            async for row in await self._c.aggregate(
                [{"$group": {"_id": "$processing_status", "count": {"$sum": 1}}}]
            ):
                try:
                    by_status[parse_status(row["_id"])] += row["count"]
                except ValueError:
                    unreadable += row["count"]
            if unreadable:
                await self._name_unknown_statuses()
            # SPEC.md's monitoring query (a missing retry_count groups as null: read as 0).
            histogram: dict[int, int] = {}
            async for row in await self._c.aggregate(
                [
                    {"$match": status_in([MessageStatus.RETRY])},
                    {"$group": {"_id": "$retry_count", "count": {"$sum": 1}}},
                ]
            ):
                count = row["_id"] if isinstance(row["_id"], int) else 0
                histogram[count] = histogram.get(count, 0) + row["count"]
            errors: dict[str, int] = {}
            async for row in await self._c.aggregate(
                [
                    {"$match": {**status_in([MessageStatus.ERROR]), "last_error": {"$ne": None}}},
                    {"$group": {"_id": "$last_error.kind", "count": {"$sum": 1}}},
                ]
            ):
                errors[str(row["_id"])] = row["count"]
            cached = await self._c.count_documents(
                {**status_in([MessageStatus.DONE]), "from_cache": True}
            )
            oldest = await self._c.find_one(
                {**status_in([MessageStatus.PENDING]), "updated_at": {"$ne": None}},
                sort=[("updated_at", ASCENDING)],
                projection={"updated_at": True},
            )
        return MessageStats(
            by_status=by_status,
            retry_histogram=dict(sorted(histogram.items())),
            errors_by_kind=dict(sorted(errors.items())),
            next_retry_at=await self.next_retry_at(),
            from_cache=cached,
            unreadable=unreadable,
            oldest_pending_since=_time_or_none(None if oldest is None else oldest["updated_at"]),
        )

    async def _name_unknown_statuses(self) -> None:
        """One WARNING for each of the first few documents whose status cannot be read."""
        unknown = {"processing_status": {"$nin": list(all_spellings(MessageStatus))}}
        async for doc in self._c.find(unknown, projection={"processing_status": True}, limit=5):
            doc_id = str(doc["_id"])
            self._unreadable.read(doc_id, doc_id, doc.get("processing_status"), parse_status)

    async def next_retry_at(self) -> datetime | None:
        with translated("finding the next retry"):
            doc = await self._c.find_one(
                {**status_in([MessageStatus.RETRY]), "retry_after": {"$ne": None}},
                sort=[("retry_after", ASCENDING)],
                projection={"retry_after": True},
            )
        when = None if doc is None else doc["retry_after"]
        # A retry_after edited by hand into something else (text sorts first): no timer;
        # the poll finds due retries all the same.
        return when if isinstance(when, datetime) else None

    async def highest_message_id(self, channel_id: int) -> int | None:
        with translated("finding the highest message id"):
            doc = await self._c.find_one(
                {"channel_id": channel_id},
                sort=[("message_id", DESCENDING)],
                projection={"message_id": True},
            )
        return None if doc is None else int(doc["message_id"])

    async def iter_matching(
        self, where: MessageFilter, batch_size: int = 500
    ) -> AsyncIterator[IncomingMessage]:
        async for message in self._stream(filter_document(where), KEY_ORDER, batch_size):
            yield message

    async def iter_parsed_since(
        self, since: datetime, where: MessageFilter | None = None, batch_size: int = 500
    ) -> AsyncIterator[IncomingMessage]:
        query = filter_document(where or MessageFilter())
        query.update({**status_field(MessageStatus.DONE), "done_at": {"$gte": since}})
        order = [("done_at", ASCENDING), *KEY_ORDER]
        async for message in self._stream(query, order, batch_size):
            yield message

    async def _stream(
        self, query: Document, order: list[tuple[str, int]], batch_size: int
    ) -> AsyncIterator[IncomingMessage]:
        """One cursor, *batch_size* documents fetched at a time: memory stays bounded."""
        cursor = self._c.find(query, batch_size=batch_size).sort(order)
        try:
            while True:
                with translated("reading messages"):
                    doc = await anext(cursor, None)
                if doc is None:
                    return
                message = self._read(doc)
                if message is not None:
                    yield message
        finally:
            await cursor.close()


def _not_leased() -> Document:
    """IncomingMessage.requeue refuses a leased message (however its status is spelled)."""
    return {"processing_status": {"$nin": list(all_spellings([LEASED]))}}


def _time_or_none(value: object) -> datetime | None:
    """A stored time, or None for one edited by hand into something else."""
    return value if isinstance(value, datetime) else None
