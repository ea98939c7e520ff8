"""The parse cache, the channel registry and the shared service state in SQLite."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from channel_parser.adapters.storage import sqlite_permits
from channel_parser.adapters.storage.gate_document import read_gate
from channel_parser.adapters.storage.sqlite_db import (
    SQLiteDatabase,
    fmt,
    fmt_opt,
    immediate,
    parse_opt,
)
from channel_parser.adapters.storage.sqlite_usage import SQLiteUsageLedger
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

GATE = "quota_gate"


class SQLiteParseCache:
    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db

    async def get(self, fingerprint: str) -> dict[str, Any] | None:
        def work(conn: sqlite3.Connection) -> dict[str, Any] | None:
            row = conn.execute(
                "SELECT result FROM parse_cache WHERE fingerprint = ?", (fingerprint,)
            ).fetchone()
            return None if row is None else json.loads(row[0])

        return await self._db.run(work, "reading the parse cache")

    async def put(self, fingerprint: str, result: dict[str, Any], now: datetime) -> None:
        args = (fingerprint, json.dumps(result), fmt(now))

        def work(conn: sqlite3.Connection) -> None:
            with immediate(conn):
                conn.execute("INSERT OR REPLACE INTO parse_cache VALUES (?, ?, ?)", args)

        await self._db.run(work, "writing the parse cache")


class SQLiteChannelRegistry:
    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db

    async def set_availability(
        self,
        channel_id: int,
        available: bool,
        now: datetime,
        reason: str | None = None,
        title: str | None = None,
        username: str | None = None,
    ) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            with immediate(conn):
                before = conn.execute(
                    "SELECT available FROM channels WHERE channel_id = ?", (channel_id,)
                ).fetchone()
                conn.execute(
                    "INSERT INTO channels (channel_id, available, title, reason, checked_at, "
                    "username) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (channel_id) DO "
                    "UPDATE SET available = excluded.available, "
                    "title = COALESCE(excluded.title, title), reason = excluded.reason, "
                    "checked_at = excluded.checked_at, "
                    "username = COALESCE(excluded.username, username)",
                    (
                        channel_id,
                        int(available),
                        title,
                        None if available else reason,
                        fmt(now),
                        username,
                    ),
                )
            return before is None or bool(before[0]) != available

        return await self._db.run(work, "recording a channel's availability")

    async def unavailable(self) -> frozenset[int]:
        def work(conn: sqlite3.Connection) -> frozenset[int]:
            rows = conn.execute("SELECT channel_id FROM channels WHERE available = 0")
            return frozenset(row[0] for row in rows)

        return await self._db.run(work, "reading unavailable channels")

    async def channels(self) -> list[ChannelInfo]:
        def work(conn: sqlite3.Connection) -> list[ChannelInfo]:
            rows = conn.execute("SELECT * FROM channels ORDER BY channel_id").fetchall()
            return [_channel_info(row) for row in rows]

        return await self._db.run(work, "reading channels")

    async def channel(self, channel_id: int) -> ChannelInfo | None:
        def work(conn: sqlite3.Connection) -> ChannelInfo | None:
            row = conn.execute(
                "SELECT * FROM channels WHERE channel_id = ?", (channel_id,)
            ).fetchone()
            return None if row is None else _channel_info(row)

        return await self._db.run(work, "reading a channel")

    async def record_read(
        self, channel_id: int, mode: ChannelMode, now: datetime, read_up_to: int | None = None
    ) -> None:
        args = (channel_id, fmt(now), str(mode), read_up_to, fmt(now))

        def work(conn: sqlite3.Connection) -> None:
            with immediate(conn):
                conn.execute(
                    "INSERT INTO channels (channel_id, available, checked_at, mode, read_up_to, "
                    "last_read_at) VALUES (?, 1, ?, ?, ?, ?) ON CONFLICT (channel_id) DO UPDATE "
                    "SET mode = excluded.mode, last_read_at = excluded.last_read_at, "
                    "read_up_to = MAX(COALESCE(read_up_to, excluded.read_up_to), "
                    "COALESCE(excluded.read_up_to, read_up_to))",
                    args,
                )

        await self._db.run(work, "recording a channel's read")


def _channel_info(row: sqlite3.Row) -> ChannelInfo:
    return ChannelInfo(
        row["channel_id"],
        bool(row["available"]),
        row["title"],
        row["reason"],
        parse_opt(row["checked_at"]),
        username=row["username"],
        mode=ChannelMode(row["mode"]) if row["mode"] else None,
        read_up_to=row["read_up_to"],
        last_read_at=parse_opt(row["last_read_at"]),
    )


class SQLiteServiceState(SQLiteUsageLedger):
    """Every read-modify-write runs in one ``BEGIN IMMEDIATE`` transaction, so that
    processes sharing the file agree (one of them wins a notification slot)."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db

    async def _get(self, name: str) -> Any:
        def work(conn: sqlite3.Connection) -> Any:
            row = conn.execute("SELECT value FROM service_state WHERE name = ?", (name,)).fetchone()
            return None if row is None else json.loads(row[0])

        return await self._db.run(work, f"reading {name}")

    async def _get_text(self, name: str) -> str | None:
        def work(conn: sqlite3.Connection) -> str | None:
            row = conn.execute("SELECT value FROM service_state WHERE name = ?", (name,)).fetchone()
            return None if row is None else str(row[0])

        return await self._db.run(work, f"reading {name}")

    async def _put(self, name: str, value: Any) -> None:
        args = (name, json.dumps(value))

        def work(conn: sqlite3.Connection) -> None:
            with immediate(conn):
                conn.execute("INSERT OR REPLACE INTO service_state VALUES (?, ?)", args)

        await self._db.run(work, f"writing {name}")

    async def quota_gate(self) -> QuotaGate:
        raw = await self._get_text(GATE)
        if raw is None:
            return QuotaGate()
        return read_gate(_json_or_text(raw), _stored_time)

    async def set_quota_gate(self, gate: QuotaGate) -> None:
        doc = {
            "state": str(gate.state),
            "since": fmt_opt(gate.since),
            "code": gate.code,
            "reason": gate.reason,
            "probe_at": fmt_opt(gate.probe_at),
            "closed_with": gate.closed_with,
        }
        await self._put(GATE, doc)

    async def take_notification_slot(
        self, kind: NotificationKind, now: datetime, decide: Decide
    ) -> SlotTaken:
        """The throttle's own decision, run on the slot inside the transaction."""

        def work(conn: sqlite3.Connection) -> SlotTaken:
            with immediate(conn):
                row = conn.execute(
                    "SELECT last_sent, suppressed FROM notification_slots WHERE kind = ?",
                    (str(kind),),
                ).fetchone()
                slot = ThrottleSlot() if row is None else ThrottleSlot(parse_opt(row[0]), row[1])
                decision = decide(slot)
                if decision.slot != slot:
                    last_sent = decision.slot.last_sent_at
                    assert last_sent is not None, "a decision never forgets a sent one"
                    conn.execute(
                        "INSERT OR REPLACE INTO notification_slots VALUES (?, ?, ?)",
                        (str(kind), fmt(last_sent), decision.slot.suppressed),
                    )
            return SlotTaken(decision.send, decision.suppressed_before if decision.send else 0)

        return await self._db.run(work, "taking a notification slot")

    async def clear_notification_slot(self, kind: NotificationKind) -> None:
        def work(conn: sqlite3.Connection) -> None:
            with immediate(conn):
                conn.execute("DELETE FROM notification_slots WHERE kind = ?", (str(kind),))

        await self._db.run(work, "clearing a notification slot")

    async def learned_limit(self) -> float | None:
        learned = sqlite_permits.learned_of(await self._get(sqlite_permits.LIMIT))
        return None if learned is None else learned.limit

    async def take_permits(
        self, owner: str, want: int, limit: ConcurrencyLimit, now: datetime, lease: timedelta
    ) -> PermitView:
        def work(conn: sqlite3.Connection) -> PermitView:
            return sqlite_permits.take(conn, owner, want, limit, now, lease)

        return await self._db.run(work, "taking concurrency permits")

    async def return_permits(
        self, owner: str, numbers: Collection[int], now: datetime
    ) -> PermitView:
        def work(conn: sqlite3.Connection) -> PermitView:
            return sqlite_permits.give_back(conn, owner, numbers, now)

        return await self._db.run(work, "returning concurrency permits")

    async def learn_limit(self, owner: str, learn: Learn, now: datetime) -> PermitView:
        def work(conn: sqlite3.Connection) -> PermitView:
            return sqlite_permits.learn(conn, owner, learn, now)

        return await self._db.run(work, "keeping the learned concurrency limit")

    async def acquire_lease(self, name: str, owner: str, now: datetime, ttl: timedelta) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            with immediate(conn):
                row = conn.execute(
                    "SELECT owner, until FROM named_leases WHERE name = ?", (name,)
                ).fetchone()
                if row is not None and row[0] != owner and row[1] > fmt(now):
                    return False
                conn.execute(
                    "INSERT OR REPLACE INTO named_leases VALUES (?, ?, ?)",
                    (name, owner, fmt(now + ttl)),
                )
                return True

        return await self._db.run(work, "taking a named lease")

    async def release_lease(self, name: str, owner: str) -> None:
        def work(conn: sqlite3.Connection) -> None:
            with immediate(conn):
                conn.execute("DELETE FROM named_leases WHERE name = ? AND owner = ?", (name, owner))

        await self._db.run(work, "releasing a named lease")


def _json_or_text(raw: str) -> object:
    """A value edited by hand may not be JSON at all: then it is its text."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _stored_time(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"a time is stored as text, not {type(value).__name__}")
    return parse_opt(value)
