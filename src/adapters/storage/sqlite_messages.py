"""SQLiteMessageRepository: the ``incoming_messages`` table.

Every change of state is the domain's own method, run on the row read inside the same
``BEGIN IMMEDIATE`` transaction (which holds the write lock): SQL only selects the rows,
by the domain's rules translated in sqlite_rules (ADR 0010)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Collection, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from channel_parser.adapters.storage.sqlite_db import SQLiteDatabase, fmt, immediate, parse_opt
from channel_parser.adapters.storage.sqlite_rows import COLUMNS, STATE_COLUMNS, from_row, to_row
from channel_parser.adapters.storage.sqlite_rules import EXPIRED, HELD, NOT_LEASED, due_condition
from channel_parser.application.ports.storage import IngestOutcome, MessageStats, NewPost
from channel_parser.domain.errors import InvalidTransition
from channel_parser.domain.failures import FailureKind
from channel_parser.domain.message import IncomingMessage, MessageKey
from channel_parser.domain.status import MessageStatus

_INSERT = (
    f"INSERT INTO incoming_messages ({', '.join(COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in COLUMNS)}) ON CONFLICT DO NOTHING"
)
_KEY = "channel_id = :channel_id AND message_id = :message_id"
_GET = f"SELECT * FROM incoming_messages WHERE {_KEY}"
# The oldest due row (outside the excluded channels, added where used).
_CANDIDATE = (
    f"SELECT * FROM incoming_messages WHERE {due_condition()} AND channel_id NOT IN ({{excluded}}) "
    "ORDER BY received_at, channel_id, message_id LIMIT 1"
)
# Save: only while the lease is still the writer's.
_SAVE = (
    f"UPDATE incoming_messages SET {', '.join(c + ' = :' + c for c in STATE_COLUMNS)} "
    f"WHERE {_KEY} AND {HELD}"
)
# Write back what a domain method changed on a row read in the same transaction.
_REWRITE = (
    f"UPDATE incoming_messages SET text = :text, "
    f"{', '.join(c + ' = :' + c for c in STATE_COLUMNS)} WHERE {_KEY}"
)
_PAGE = 500  # rows read at once by a bulk requeue


def _rewrite(conn: sqlite3.Connection, message: IncomingMessage) -> None:
    conn.execute(_REWRITE, to_row(message))


def _add(
    conn: sqlite3.Connection, post: NewPost, row: dict[str, Any], now: datetime
) -> IngestOutcome:
    """Insert the post; a post stored before takes the new text only as the domain's
    edit_text allows (not parsed yet, text changed)."""
    if conn.execute(_INSERT, row).rowcount == 1:
        return IngestOutcome.STORED
    stored = from_row(conn.execute(_GET, row).fetchone())
    if not stored.edit_text(post.text, now):
        return IngestOutcome.UNCHANGED
    _rewrite(conn, stored)
    return IngestOutcome.UPDATED


def _named(prefix: str, values: Collection[object]) -> dict[str, object]:
    return {f"{prefix}{i}": value for i, value in enumerate(values)}


def _marks(names: dict[str, object]) -> str:
    return ", ".join(":" + name for name in names)


class SQLiteMessageRepository:
    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db

    async def add(self, post: NewPost, now: datetime) -> IngestOutcome:
        [outcome] = await self.add_many([post], now)
        return outcome

    async def add_many(self, posts: Sequence[NewPost], now: datetime) -> list[IngestOutcome]:
        """Every post in one transaction (one fsync for a whole batch of an import)."""
        rows = [(post, to_row(post.to_message(now))) for post in posts]

        def work(conn: sqlite3.Connection) -> list[IngestOutcome]:
            with immediate(conn):
                return [_add(conn, post, row, now) for post, row in rows]

        return await self._db.run(work, "storing a post" if len(rows) == 1 else "storing posts")

    async def get(self, key: MessageKey) -> IncomingMessage | None:
        args = {"channel_id": key.channel_id, "message_id": key.message_id}

        def work(conn: sqlite3.Connection) -> IncomingMessage | None:
            row = conn.execute(_GET, args).fetchone()
            return None if row is None else from_row(row)

        return await self._db.run(work, "reading a message")

    async def claim_next(
        self,
        owner: str,
        now: datetime,
        lease: timedelta,
        exclude_channels: Collection[int] = (),
    ) -> IncomingMessage | None:
        excluded = _named("x", exclude_channels)
        sql = _CANDIDATE.format(excluded=_marks(excluded))
        args = {"now": fmt(now), **excluded}

        def work(conn: sqlite3.Connection) -> IncomingMessage | None:
            with immediate(conn):
                row = conn.execute(sql, args).fetchone()
                if row is None:
                    return None
                message = from_row(row)
                message.claim(owner, now, lease)
                _rewrite(conn, message)
            return message

        return await self._db.run(work, "claiming a message")

    async def save(self, message: IncomingMessage, owner: str) -> bool:
        row = {**to_row(message), "owner": owner}

        def work(conn: sqlite3.Connection) -> bool:
            with immediate(conn):
                return conn.execute(_SAVE, row).rowcount == 1

        return await self._db.run(work, "saving a message")

    async def renew_lease(self, key: MessageKey, owner: str, until: datetime) -> bool:
        sql = f"UPDATE incoming_messages SET lease_until = :until WHERE {_KEY} AND {HELD}"
        args = {
            "until": fmt(until),
            "channel_id": key.channel_id,
            "message_id": key.message_id,
            "owner": owner,
        }

        def work(conn: sqlite3.Connection) -> bool:
            with immediate(conn):
                return conn.execute(sql, args).rowcount == 1

        return await self._db.run(work, "renewing a lease")

    async def recover_expired(self, now: datetime) -> int:
        # As many rows as were claimed when their workers died: a bounded few.
        sql = f"SELECT * FROM incoming_messages WHERE {EXPIRED}"
        args = {"now": fmt(now)}

        def work(conn: sqlite3.Connection) -> int:
            with immediate(conn):
                rows = conn.execute(sql, args).fetchall()
                for row in rows:
                    message = from_row(row)
                    message.recover_stuck(now)
                    _rewrite(conn, message)
            return len(rows)

        return await self._db.run(work, "recovering expired leases")

    async def requeue(
        self,
        now: datetime,
        statuses: Collection[MessageStatus] = (),
        kinds: Collection[FailureKind] = (),
    ) -> int:
        if not statuses and not kinds:
            return 0
        chosen = _named("s", [str(s) for s in statuses])
        by_kind = _named("k", [str(k) for k in kinds])
        sql = (
            "SELECT * FROM incoming_messages WHERE (channel_id, message_id) > (:after_c, :after_m) "
            f"AND {NOT_LEASED} AND (processing_status IN ({_marks(chosen)}) "
            f"OR error_kind IN ({_marks(by_kind)})) ORDER BY channel_id, message_id LIMIT {_PAGE}"
        )

        def work(conn: sqlite3.Connection) -> int:
            count = 0
            after = {"after_c": -(2**63), "after_m": -(2**63)}
            with immediate(conn):  # pages by key: a bounded memory, one transaction
                while rows := conn.execute(sql, {**after, **chosen, **by_kind}).fetchall():
                    for row in rows:
                        message = from_row(row)
                        message.requeue(now)
                        _rewrite(conn, message)
                    count += len(rows)
                    after = {"after_c": rows[-1]["channel_id"], "after_m": rows[-1]["message_id"]}
            return count

        return await self._db.run(work, "requeueing messages")

    async def reset(self, key: MessageKey, now: datetime) -> bool:
        args = {"channel_id": key.channel_id, "message_id": key.message_id}

        def work(conn: sqlite3.Connection) -> bool:
            with immediate(conn):
                row = conn.execute(_GET, args).fetchone()
                if row is None:
                    return False
                message = from_row(row)
                try:
                    message.requeue(now)
                except InvalidTransition:  # being processed
                    return False
                _rewrite(conn, message)
            return True

        return await self._db.run(work, "resetting a message")

    async def stats(self) -> MessageStats:
        def work(conn: sqlite3.Connection) -> MessageStats:
            by_status = {s: 0 for s in MessageStatus}
            for status, count in conn.execute(
                "SELECT processing_status, COUNT(*) FROM incoming_messages "
                "GROUP BY processing_status"
            ):
                by_status[MessageStatus(status)] = count
            histogram = {
                retries: count
                for retries, count in conn.execute(
                    "SELECT COALESCE(retry_count, 0) AS n, COUNT(*) FROM incoming_messages "
                    "WHERE processing_status = 'retry' GROUP BY n ORDER BY n"
                )
            }
            errors = {
                kind: count
                for kind, count in conn.execute(
                    "SELECT error_kind, COUNT(*) FROM incoming_messages "
                    "WHERE processing_status = 'error' AND error_kind IS NOT NULL "
                    "GROUP BY error_kind ORDER BY error_kind"
                )
            }
            cached = conn.execute(
                "SELECT COUNT(*) FROM incoming_messages "
                "WHERE processing_status = 'done' AND from_cache = 1"
            ).fetchone()[0]
            return MessageStats(by_status, histogram, errors, _next_retry(conn), cached)

        return await self._db.run(work, "computing statistics")

    async def next_retry_at(self) -> datetime | None:
        return await self._db.run(_next_retry, "finding the next retry")

    async def highest_message_id(self, channel_id: int) -> int | None:
        def work(conn: sqlite3.Connection) -> int | None:
            row = conn.execute(
                "SELECT MAX(message_id) FROM incoming_messages WHERE channel_id = ?",
                (channel_id,),
            ).fetchone()
            return None if row[0] is None else int(row[0])

        return await self._db.run(work, "finding the highest message id")

    async def iter_messages(
        self, status: MessageStatus | None = None, batch_size: int = 500
    ) -> AsyncIterator[IncomingMessage]:
        """Keyset pages of *batch_size*: no read transaction stays open between pages."""
        after = (-(2**63), -(2**63))
        where = "" if status is None else "AND processing_status = ?"
        extra = () if status is None else (str(status),)
        sql = (
            "SELECT * FROM incoming_messages WHERE (channel_id, message_id) > (?, ?) "
            f"{where} ORDER BY channel_id, message_id LIMIT ?"
        )
        while True:
            args = (*after, *extra, batch_size)

            rows = await self._db.run(partial(_fetch, sql, args), "reading messages")
            for row in rows:
                yield from_row(row)
            if len(rows) < batch_size:
                return
            after = (rows[-1]["channel_id"], rows[-1]["message_id"])


def _fetch(sql: str, args: tuple[object, ...], conn: sqlite3.Connection) -> list[sqlite3.Row]:
    return conn.execute(sql, args).fetchall()


def _next_retry(conn: sqlite3.Connection) -> datetime | None:
    row = conn.execute(
        "SELECT MIN(retry_after) FROM incoming_messages WHERE processing_status = 'retry'"
    ).fetchone()
    return parse_opt(row[0])
