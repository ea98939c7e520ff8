"""The usage ledger in MongoDB: collection ``llm_usage``.

Each process writes only documents of its own, ``{_id: "<hour>/<writer>", hour, ...}``
(the writer is a random id per store object), one write at a time: no two writers ever
update one document, so the ``$inc`` is right on any MongoDB-protocol server (FerretDB
loses concurrent ``$inc`` updates of one document; MongoDB would not). A sum over the
documents gives the total: a few per hour and process.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from channel_parser.adapters.storage.mongo_errors import translated
from channel_parser.domain.usage import NO_USAGE, LLMUsage, usage_hour

Document = dict[str, Any]

FIELDS = ("prompt_tokens", "completion_tokens", "calls", "seconds")


class MongoUsageLedger:
    """The ``ServiceState`` methods of the ledger (mixed into MongoServiceState)."""

    _usage: AsyncCollection[Document]
    _writer: str
    _writing: asyncio.Lock

    def _init_usage(self, collection: AsyncCollection[Document]) -> None:
        self._usage = collection
        self._writer = uuid.uuid4().hex[:12]
        self._writing = asyncio.Lock()

    async def create_usage_index(self) -> None:
        with translated("creating the index of llm_usage"):
            await self._usage.create_index([("hour", ASCENDING)], name="hour")

    async def add_usage(self, at: datetime, usage: LLMUsage) -> None:
        hour = usage_hour(at)
        inc = {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "calls": usage.calls,
            "seconds": usage.seconds,
        }
        async with self._writing:  # this writer's documents: one update at a time
            with translated("adding to the usage ledger"):
                await self._usage.update_one(
                    {"_id": f"{hour.isoformat()}/{self._writer}"},
                    {"$inc": inc, "$setOnInsert": {"hour": hour}},
                    upsert=True,
                )

    async def usage_since(self, since: datetime | None = None) -> LLMUsage:
        """Summed here, streaming: FerretDB's ``$group`` computes only the first of several
        ``$sum``s, and the documents are few (hours times processes)."""
        match: Document = {} if since is None else {"hour": {"$gte": usage_hour(since)}}
        total = NO_USAGE
        with translated("reading the usage ledger"):
            async for doc in self._usage.find(match, projection=dict.fromkeys(FIELDS, True)):
                total += LLMUsage(*(doc.get(name) or 0 for name in FIELDS))
        return total
