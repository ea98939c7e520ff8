"""SQLiteMessageRepository: the ``incoming_messages`` table."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Collection
from datetime import datetime, timedelta
from functools import partial

from channel_parser.adapters.storage.sqlite_db import SQLiteDatabase, fmt, immediate, parse_opt
from channel_parser.adapters.storage.sqlite_rows import COLUMNS, STATE_COLUMNS, from_row, to_row
from channel_parser.application.ports.storage import IngestOutcome, MessageStats, NewPost
from channel_parser.domain.failures import FailureKind
from channel_parser.domain.message import IncomingMessage, MessageKey
from channel_parser.domain.status import MessageStatus

_INSERT = (
    f"INSERT INTO incoming_messages ({', '.join(COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in COLUMNS)}) ON CONFLICT DO NOTHING"
)
_EDIT = (
    "UPDATE incoming_messages SET text = ?, updated_at = ? "
    "WHERE channel_id = ? AND message_id = ? AND text != ? "
    "AND processing_status NOT IN ('processing', 'done')"
)
_CLAIM = """
UPDATE incoming_messages
SET processing_status = 'processing', lease_owner = ?, lease_until = ?, updated_at = ?
WHERE rowid = (
    SELECT rowid FROM incoming_messages
    WHERE (processing_status = 'pending'
           OR (processing_status = 'retry' AND (retry_after IS NULL OR retry_after <= ?)))
      AND channel_id NOT IN ({excluded})
    ORDER BY received_at, channel_id, message_id
    LIMIT 1
)
RETURNING *
"""
_HELD = "channel_id = ? AND message_id = ? AND processing_status = 'processing' AND lease_owner = ?"
_SAVE = (
    f"UPDATE incoming_messages SET {', '.join(c + ' = :' + c for c in STATE_COLUMNS)} "
    "WHERE channel_id = :channel_id AND message_id = :message_id "
    "AND processing_status = 'processing' AND lease_owner = :owner"
)
# A requeue (SPEC.md's FAQ): back to pending, retry_count removed.
_REQUEUE_SET = (
    "SET processing_status = 'pending', updated_at = ?, retry_count = NULL, retry_after = NULL, "
    "lease_owner = NULL, lease_until = NULL, error_kind = NULL, error_code = NULL, "
    "error_message = NULL, error_at = NULL, result = NULL, done_at = NULL, from_cache = 0"
)


def _marks(values: Collection[object]) -> str:
    return ", ".join("?" for _ in values)


class SQLiteMessageRepository:
    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db

    async def add(self, post: NewPost, now: datetime) -> IngestOutcome:
        message = post.to_message(now)
        row = to_row(message)

        def work(conn: sqlite3.Connection) -> IngestOutcome:
            with immediate(conn):
                if conn.execute(_INSERT, row).rowcount == 1:
                    return IngestOutcome.STORED
                args = (post.text, fmt(now), post.channel_id, post.message_id, post.text)
                edited = conn.execute(_EDIT, args).rowcount
            return IngestOutcome.UPDATED if edited else IngestOutcome.UNCHANGED

        return await self._db.run(work, "storing a post")

    async def get(self, key: MessageKey) -> IncomingMessage | None:
        def work(conn: sqlite3.Connection) -> IncomingMessage | None:
            row = conn.execute(
                "SELECT * FROM incoming_messages WHERE channel_id = ? AND message_id = ?",
                (key.channel_id, key.message_id),
            ).fetchone()
            return None if row is None else from_row(row)

        return await self._db.run(work, "reading a message")

    async def claim_next(
        self,
        owner: str,
        now: datetime,
        lease: timedelta,
        exclude_channels: Collection[int] = (),
    ) -> IncomingMessage | None:
        excluded = list(exclude_channels)
        sql = _CLAIM.format(excluded=_marks(excluded))
        args = (owner, fmt(now + lease), fmt(now), fmt(now), *excluded)

        def work(conn: sqlite3.Connection) -> IncomingMessage | None:
            with immediate(conn):
                row = conn.execute(sql, args).fetchone()
            return None if row is None else from_row(row)

        return await self._db.run(work, "claiming a message")

    async def save(self, message: IncomingMessage, owner: str) -> bool:
        row = {**to_row(message), "owner": owner}

        def work(conn: sqlite3.Connection) -> bool:
            with immediate(conn):
                return conn.execute(_SAVE, row).rowcount == 1

        return await self._db.run(work, "saving a message")

    async def renew_lease(self, key: MessageKey, owner: str, until: datetime) -> bool:
        sql = f"UPDATE incoming_messages SET lease_until = ? WHERE {_HELD}"
        args = (fmt(until), key.channel_id, key.message_id, owner)

        def work(conn: sqlite3.Connection) -> bool:
            with immediate(conn):
                return conn.execute(sql, args).rowcount == 1

        return await self._db.run(work, "renewing a lease")

    async def recover_expired(self, now: datetime) -> int:
        stamp = fmt(now)
        expired = "processing_status = 'processing' AND lease_until <= ?"

        def work(conn: sqlite3.Connection) -> int:
            with immediate(conn):
                retried = conn.execute(
                    "UPDATE incoming_messages SET processing_status = 'retry', retry_after = ?, "
                    "lease_owner = NULL, lease_until = NULL, updated_at = ? "
                    f"WHERE {expired} AND retry_count > 0",
                    (stamp, stamp, stamp),
                ).rowcount
                fresh = conn.execute(
                    "UPDATE incoming_messages SET processing_status = 'pending', "
                    "retry_after = NULL, lease_owner = NULL, lease_until = NULL, updated_at = ? "
                    f"WHERE {expired}",
                    (stamp, stamp),
                ).rowcount
            return retried + fresh

        return await self._db.run(work, "recovering expired leases")

    async def requeue(
        self,
        now: datetime,
        statuses: Collection[MessageStatus] = (),
        kinds: Collection[FailureKind] = (),
    ) -> int:
        if not statuses and not kinds:
            return 0
        status_list = [str(s) for s in statuses] or [""]
        kind_list = [str(k) for k in kinds] or [""]
        sql = (
            f"UPDATE incoming_messages {_REQUEUE_SET} WHERE processing_status != 'processing' "
            f"AND (processing_status IN ({_marks(status_list)}) "
            f"OR error_kind IN ({_marks(kind_list)}))"
        )
        args = (fmt(now), *status_list, *kind_list)

        def work(conn: sqlite3.Connection) -> int:
            with immediate(conn):
                return conn.execute(sql, args).rowcount

        return await self._db.run(work, "requeueing messages")

    async def reset(self, key: MessageKey, now: datetime) -> bool:
        sql = (
            f"UPDATE incoming_messages {_REQUEUE_SET} WHERE channel_id = ? AND message_id = ? "
            "AND processing_status != 'processing'"
        )
        args = (fmt(now), key.channel_id, key.message_id)

        def work(conn: sqlite3.Connection) -> bool:
            with immediate(conn):
                return conn.execute(sql, args).rowcount == 1

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
