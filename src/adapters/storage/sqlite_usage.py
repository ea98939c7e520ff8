"""The usage ledger in SQLite: table ``llm_usage``, one row per hour, added to in place
(an upsert inside ``BEGIN IMMEDIATE``, so concurrent processes all count)."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from channel_parser.adapters.storage.sqlite_db import SQLiteDatabase, fmt, immediate
from channel_parser.domain.usage import LLMUsage, usage_hour

_ADD = (
    "INSERT INTO llm_usage VALUES (:hour, :prompt, :completion, :calls, :seconds) "
    "ON CONFLICT (hour) DO UPDATE SET "
    "prompt_tokens = prompt_tokens + excluded.prompt_tokens, "
    "completion_tokens = completion_tokens + excluded.completion_tokens, "
    "calls = calls + excluded.calls, seconds = seconds + excluded.seconds"
)
_SUM = (
    "SELECT COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), "
    "COALESCE(SUM(calls), 0), COALESCE(SUM(seconds), 0) FROM llm_usage WHERE hour >= :since"
)


class SQLiteUsageLedger:
    """The ``ServiceState`` methods of the ledger (mixed into SQLiteServiceState)."""

    _db: SQLiteDatabase

    async def add_usage(self, at: datetime, usage: LLMUsage) -> None:
        args = {
            "hour": fmt(usage_hour(at)),
            "prompt": usage.prompt_tokens,
            "completion": usage.completion_tokens,
            "calls": usage.calls,
            "seconds": usage.seconds,
        }

        def work(conn: sqlite3.Connection) -> None:
            with immediate(conn):
                conn.execute(_ADD, args)

        await self._db.run(work, "adding to the usage ledger")

    async def usage_since(self, since: datetime | None = None) -> LLMUsage:
        args = {"since": "" if since is None else fmt(usage_hour(since))}

        def work(conn: sqlite3.Connection) -> LLMUsage:
            prompt, completion, calls, seconds = conn.execute(_SUM, args).fetchone()
            return LLMUsage(int(prompt), int(completion), int(calls), float(seconds))

        return await self._db.run(work, "reading the usage ledger")
