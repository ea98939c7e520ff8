"""The shared concurrency limiter in SQLite: the learned limit (a ``service_state`` row)
and the permit slots (table ``concurrency_permits``). Each operation is one
``BEGIN IMMEDIATE`` transaction that runs the domain's rules on the rows it read, so that
processes sharing the file never hand one slot to two workers."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from channel_parser.adapters.storage.sqlite_db import fmt, fmt_opt, immediate, parse_opt
from channel_parser.application.ports.storage import Learn, PermitView
from channel_parser.domain.concurrency import ConcurrencyLimit, LearnedLimit
from channel_parser.domain.permits import PermitSlot, PermitTable

LIMIT = "learned_limit"


def learned_of(value: Any) -> LearnedLimit | None:
    """The stored learned limit; a bare number is the form before the ceiling was kept."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return LearnedLimit(float(value))
    return LearnedLimit(
        float(value["limit"]),
        value.get("ceiling"),
        float(value.get("weight", 0.0)),
        parse_opt(value.get("weighed_at")),
        int(value.get("at_ceiling", 0)),
        value.get("restore"),
        parse_opt(value.get("restore_until")),
    )


def _read_learned(conn: sqlite3.Connection) -> LearnedLimit | None:
    row = conn.execute("SELECT value FROM service_state WHERE name = ?", (LIMIT,)).fetchone()
    return None if row is None else learned_of(json.loads(row[0]))


def _write_learned(conn: sqlite3.Connection, learned: LearnedLimit) -> None:
    value = {
        "limit": learned.limit,
        "ceiling": learned.ceiling,
        "weight": learned.weight,
        "weighed_at": fmt_opt(learned.weighed_at),
        "at_ceiling": learned.at_ceiling,
        "restore": learned.restore,
        "restore_until": fmt_opt(learned.restore_until),
    }
    conn.execute("INSERT OR REPLACE INTO service_state VALUES (?, ?)", (LIMIT, json.dumps(value)))


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def _read_table(conn: sqlite3.Connection) -> PermitTable:
    rows = conn.execute("SELECT slot, owner, until FROM concurrency_permits").fetchall()
    return PermitTable.of(PermitSlot(row[0], row[1], _parse(row[2])) for row in rows)


def _write_table(conn: sqlite3.Connection, before: PermitTable, after: PermitTable) -> None:
    kept = {slot.number for slot in after.slots}
    gone = [(slot.number,) for slot in before.slots if slot.number not in kept]
    changed = [
        (slot.number, slot.owner, fmt(slot.until))
        for slot in after.slots
        if slot not in before.slots
    ]
    conn.executemany("DELETE FROM concurrency_permits WHERE slot = ?", gone)
    conn.executemany("INSERT OR REPLACE INTO concurrency_permits VALUES (?, ?, ?)", changed)


def _view(
    learned: LearnedLimit | None, table: PermitTable, owner: str, now: datetime
) -> PermitView:
    return PermitView(learned, table.held_by(owner, now), len(table.held(now)))


def take(
    conn: sqlite3.Connection,
    owner: str,
    want: int,
    limit: ConcurrencyLimit,
    now: datetime,
    lease: timedelta,
) -> PermitView:
    with immediate(conn):
        learned = _read_learned(conn)
        before = _read_table(conn)
        permits = limit.with_learned(learned).permits
        after, _ = before.take(owner, want, permits, now, now + lease)
        _write_table(conn, before, after)
    return _view(learned, after, owner, now)


def give_back(
    conn: sqlite3.Connection, owner: str, numbers: Collection[int], now: datetime
) -> PermitView:
    with immediate(conn):
        learned = _read_learned(conn)
        before = _read_table(conn)
        after = before.give_back(owner, numbers)
        _write_table(conn, before, after)
    return _view(learned, after, owner, now)


def learn(conn: sqlite3.Connection, owner: str, apply: Learn, now: datetime) -> PermitView:
    with immediate(conn):
        table = _read_table(conn)
        learned = apply(_read_learned(conn), table.held_by_others(owner, now))
        _write_learned(conn, learned)
    return _view(learned, table, owner, now)
