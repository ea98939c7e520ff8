"""What a SQLite file made by an earlier version lacks, added when it is opened.

``sqlite_db.SCHEMA`` creates the tables as they first were; the columns added since are
listed here and added to any file that lacks them (a new file too: one path, always
tested), then the tables and indexes that need them. Idempotent, and safe when several
processes open one file at once (inside ``BEGIN IMMEDIATE``, the columns read again).
"""

from __future__ import annotations

import sqlite3

# table -> [(column, declaration)], in the order they were added.
ADDED_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "incoming_messages": [
        # how many failures of the last error's kind came in a row (ErrorInfo.repeats)
        ("error_repeats", "INTEGER"),
        # what the current result cost (IncomingMessage.usage), and what made it
        ("prompt_tokens", "INTEGER NOT NULL DEFAULT 0"),
        ("completion_tokens", "INTEGER NOT NULL DEFAULT 0"),
        ("llm_calls", "INTEGER NOT NULL DEFAULT 0"),
        ("llm_seconds", "REAL NOT NULL DEFAULT 0"),
        ("model", "TEXT"),
        ("parser_fingerprint", "TEXT"),
        ("edited_at", "TEXT"),
        # the profile (prompt and schema) that made the result, and their short hash
        ("profile", "TEXT"),
        ("spec_hash", "TEXT"),
    ],
    "channels": [
        ("username", "TEXT"),
        # how the listener reads the channel, how far, and when it last did
        ("mode", "TEXT"),
        ("read_up_to", "INTEGER"),
        ("last_read_at", "TEXT"),
    ],
}

# Tables made here (sqlite_db recognises a file of an earlier version by its tables).
ADDED_TABLES = frozenset({"llm_usage", "outbox", "concurrency_permits"})

# Made once the columns exist.
AFTER_COLUMNS = """
CREATE INDEX IF NOT EXISTS parsed_order
    ON incoming_messages (processing_status, done_at, channel_id, message_id);
CREATE TABLE IF NOT EXISTS llm_usage (
    hour TEXT PRIMARY KEY,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    calls INTEGER NOT NULL,
    seconds REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    entry_id TEXT PRIMARY KEY, queue TEXT NOT NULL, topic TEXT NOT NULL,
    destination TEXT NOT NULL, payload TEXT NOT NULL, created_at TEXT NOT NULL,
    status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT,
    last_error TEXT, finished_at TEXT
);
CREATE INDEX IF NOT EXISTS outbox_queue ON outbox (status, queue, entry_id);
CREATE TABLE IF NOT EXISTS concurrency_permits (
    slot INTEGER PRIMARY KEY, owner TEXT NOT NULL, until TEXT NOT NULL
);
"""


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Add what is missing; returns the ``table.column`` names added."""
    added: list[str] = []
    conn.execute("BEGIN IMMEDIATE")  # (sqlite_db.immediate, which imports this module)
    try:
        for table, columns in ADDED_COLUMNS.items():
            have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
            for name, declaration in columns:
                if name not in have:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {declaration}")
                    added.append(f"{table}.{name}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    conn.executescript(AFTER_COLUMNS)
    return added
