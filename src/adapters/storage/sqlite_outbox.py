"""The durable outbox in SQLite: the ``outbox`` table (ADR 0013)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from channel_parser.adapters.storage.sqlite_db import (
    SQLiteDatabase,
    fmt,
    fmt_opt,
    immediate,
    parse_opt,
)
from channel_parser.application.ports.outbox import OutboxStats, TopicStats
from channel_parser.domain.outbox import DeliveryStatus, OutboxEntry

_COLUMNS = (
    "entry_id, queue, topic, destination, payload, created_at, status, attempts, "
    "next_attempt_at, last_error, finished_at"
)
_INSERT = f"INSERT INTO outbox ({_COLUMNS}) VALUES ({', '.join('?' * 11)})"
_PENDING = f"status = '{DeliveryStatus.PENDING}'"
_HEADS = (
    "SELECT * FROM outbox WHERE entry_id IN "
    f"(SELECT MIN(entry_id) FROM outbox WHERE {_PENDING} GROUP BY queue) "
    "ORDER BY entry_id LIMIT ?"
)
_SAVE = (
    "UPDATE outbox SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ?, "
    f"finished_at = ? WHERE entry_id = ? AND {_PENDING}"
)


def _row(entry: OutboxEntry) -> tuple[Any, ...]:
    return (
        entry.entry_id,
        entry.queue,
        entry.topic,
        entry.destination,
        json.dumps(entry.payload, ensure_ascii=False),
        fmt(entry.created_at),
        str(entry.status),
        entry.attempts,
        fmt_opt(entry.next_attempt_at),
        entry.last_error,
        fmt_opt(entry.finished_at),
    )


def _entry(row: sqlite3.Row) -> OutboxEntry:
    created = parse_opt(row["created_at"])
    assert created is not None
    return OutboxEntry(
        entry_id=row["entry_id"],
        topic=row["topic"],
        destination=row["destination"],
        payload=json.loads(row["payload"]),
        created_at=created,
        status=DeliveryStatus(row["status"]),
        attempts=row["attempts"],
        next_attempt_at=parse_opt(row["next_attempt_at"]),
        last_error=row["last_error"],
        finished_at=parse_opt(row["finished_at"]),
    )


class SQLiteOutbox:
    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db

    async def put(self, entries: Sequence[OutboxEntry]) -> None:
        rows = [_row(entry) for entry in entries]

        def work(conn: sqlite3.Connection) -> None:
            with immediate(conn):
                conn.executemany(_INSERT, rows)

        await self._db.run(work, "keeping a notification in the outbox")

    async def heads(self, limit: int = 100) -> list[OutboxEntry]:
        def work(conn: sqlite3.Connection) -> list[OutboxEntry]:
            return [_entry(row) for row in conn.execute(_HEADS, (limit,))]

        return await self._db.run(work, "reading the outbox")

    async def save(self, entry: OutboxEntry) -> bool:
        args = (
            str(entry.status),
            entry.attempts,
            fmt_opt(entry.next_attempt_at),
            entry.last_error,
            fmt_opt(entry.finished_at),
            entry.entry_id,
        )

        def work(conn: sqlite3.Connection) -> bool:
            with immediate(conn):
                return conn.execute(_SAVE, args).rowcount == 1

        return await self._db.run(work, "recording a delivery")

    async def get(self, entry_id: str) -> OutboxEntry | None:
        def work(conn: sqlite3.Connection) -> OutboxEntry | None:
            row = conn.execute("SELECT * FROM outbox WHERE entry_id = ?", (entry_id,)).fetchone()
            return None if row is None else _entry(row)

        return await self._db.run(work, "reading the outbox")

    async def stats(self) -> OutboxStats:
        def work(conn: sqlite3.Connection) -> OutboxStats:
            counts = dict(conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status"))
            oldest, next_at, retrying = conn.execute(
                "SELECT MIN(created_at), MIN(next_attempt_at), "
                f"COALESCE(SUM(attempts > 0), 0) FROM outbox WHERE {_PENDING}"
            ).fetchone()
            failure = conn.execute(
                "SELECT destination, last_error FROM outbox WHERE status = ? "
                "ORDER BY finished_at DESC, entry_id DESC LIMIT 1",
                (str(DeliveryStatus.FAILED),),
            ).fetchone()
            by_topic: dict[str, dict[str, int]] = {}
            for topic, status, count, tried in conn.execute(
                "SELECT topic, status, COUNT(*), COALESCE(SUM(attempts > 0), 0) FROM outbox "
                "GROUP BY topic, status"
            ):
                counts_of = by_topic.setdefault(topic, {})
                counts_of[status] = count
                if status == str(DeliveryStatus.PENDING):
                    counts_of["retrying"] = tried
            return OutboxStats(
                by_topic={topic: _topic_stats(c) for topic, c in sorted(by_topic.items())},
                pending=counts.get(str(DeliveryStatus.PENDING), 0),
                delivered=counts.get(str(DeliveryStatus.DELIVERED), 0),
                failed=counts.get(str(DeliveryStatus.FAILED), 0),
                oldest_pending_at=parse_opt(oldest),
                next_attempt_at=parse_opt(next_at),
                last_failure=None if failure is None else f"{failure[0]}: {failure[1]}",
                retrying=retrying,
            )

        return await self._db.run(work, "reading the outbox")

    async def purge(self, finished_before: datetime) -> int:
        def work(conn: sqlite3.Connection) -> int:
            with immediate(conn):
                return conn.execute(
                    f"DELETE FROM outbox WHERE NOT {_PENDING} AND finished_at < ?",
                    (fmt(finished_before),),
                ).rowcount

        return await self._db.run(work, "purging the outbox")


def _topic_stats(counts: dict[str, int]) -> TopicStats:
    return TopicStats(
        pending=counts.get(str(DeliveryStatus.PENDING), 0),
        delivered=counts.get(str(DeliveryStatus.DELIVERED), 0),
        failed=counts.get(str(DeliveryStatus.FAILED), 0),
        retrying=counts.get("retrying", 0),
    )
