"""One SQLite file shared by several processes: WAL, a busy timeout, ``BEGIN IMMEDIATE``
for every read-modify-write, and a single worker thread per process for the connection."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from channel_parser.application.errors import StorageError, StorageUnavailable

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS incoming_messages (
    channel_id INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    text TEXT NOT NULL,
    received_at TEXT NOT NULL,
    posted_at TEXT,
    processing_status TEXT NOT NULL,
    retry_count INTEGER,
    retry_after TEXT,
    lease_owner TEXT,
    lease_until TEXT,
    error_kind TEXT,
    error_code TEXT,
    error_message TEXT,
    error_at TEXT,
    result TEXT,
    updated_at TEXT,
    done_at TEXT,
    from_cache INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (channel_id, message_id)
);
CREATE INDEX IF NOT EXISTS status_due ON incoming_messages (processing_status, retry_after);
CREATE INDEX IF NOT EXISTS status_age
    ON incoming_messages (processing_status, received_at, channel_id, message_id);
CREATE INDEX IF NOT EXISTS lease ON incoming_messages (processing_status, lease_until);
CREATE TABLE IF NOT EXISTS parse_cache (
    fingerprint TEXT PRIMARY KEY, result TEXT NOT NULL, stored_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS channels (
    channel_id INTEGER PRIMARY KEY, available INTEGER NOT NULL, title TEXT, reason TEXT,
    checked_at TEXT
);
CREATE TABLE IF NOT EXISTS service_state (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS notification_slots (
    kind TEXT PRIMARY KEY, last_sent TEXT NOT NULL, suppressed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS named_leases (
    name TEXT PRIMARY KEY, owner TEXT NOT NULL, until TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS concurrency_permits (
    slot INTEGER PRIMARY KEY, owner TEXT NOT NULL, until TEXT NOT NULL
);
"""


def fmt(value: datetime) -> str:
    """A fixed-width UTC text, so that text order is time order."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def fmt_opt(value: datetime | None) -> str | None:
    return None if value is None else fmt(value)


def parse_opt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).astimezone(UTC)


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction that takes the write lock at its start (no upgrade deadlocks)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class SQLiteDatabase:
    """The connection and the thread it lives in."""

    def __init__(self, path: Path, busy_timeout: float = 10.0) -> None:
        self.path = path
        self._busy_ms = int(busy_timeout * 1000)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._conn: sqlite3.Connection | None = None

    async def open(self) -> None:
        """Open the file (creating its folder and schema) and set WAL and the busy timeout."""
        await self._call(self._open, "opening the database")

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=self._busy_ms / 1000
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")  # a stored post survives a power cut
            conn.executescript(SCHEMA)
        except BaseException:
            conn.close()
            raise
        conn.row_factory = sqlite3.Row
        self._conn = conn

    async def run(self, work: Callable[[sqlite3.Connection], T], action: str) -> T:
        """Run *work* with the connection in the database's thread; errors become
        StorageError (StorageUnavailable when the file is locked or cannot be opened)."""

        def call() -> T:
            if self._conn is None:
                raise StorageUnavailable("the SQLite database is not open")
            return work(self._conn)

        return await self._call(call, action)

    async def _call(self, work: Callable[[], T], action: str) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, work)
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if "locked" in text or "unable to open" in text or "disk I/O" in text:
                raise StorageUnavailable(
                    f"SQLite {self.path} unavailable while {action}: {text}"
                ) from exc
            raise StorageError(f"SQLite failed while {action}: {text}") from exc
        except sqlite3.Error as exc:
            raise StorageError(f"SQLite failed while {action}: {exc}") from exc
        except OSError as exc:  # the folder of the file cannot be made
            raise StorageUnavailable(
                f"SQLite {self.path} unavailable while {action}: {exc}"
            ) from exc

    async def close(self) -> None:
        def close() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        try:
            await self._call(close, "closing the database")
        finally:
            self._executor.shutdown(wait=False)
