"""The storage contract against the SQLite adapter, on a real file."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from channel_parser.adapters.storage.sqlite_migrations import ADDED_COLUMNS, migrate
from channel_parser.application.ports.storage import MessageFilter
from channel_parser.bootstrap.settings import Settings
from channel_parser.bootstrap.storage import Stores, open_storage
from channel_parser.domain.concurrency import LearnedLimit
from channel_parser.domain.message import MessageKey
from channel_parser.domain.status import MessageStatus
from channel_parser.domain.usage import NO_USAGE, LLMUsage
from tests.contracts.outbox import OutboxContract
from tests.contracts.storage import StorageContract


class TestSQLiteStorage(StorageContract, OutboxContract):
    @pytest.fixture
    async def stores(self, sqlite_path: Path) -> AsyncIterator[Stores]:
        settings = Settings(_env_file=None, mongodb_uri=None, sqlite_path=sqlite_path)
        async with open_storage(settings) as stores:
            assert stores.backend == "sqlite"
            yield stores


# The tables as a file made before the usage columns and the ledger existed has them.
OLD_SCHEMA = """
CREATE TABLE incoming_messages (
    channel_id INTEGER NOT NULL, message_id INTEGER NOT NULL, text TEXT NOT NULL,
    received_at TEXT NOT NULL, posted_at TEXT, processing_status TEXT NOT NULL,
    retry_count INTEGER, retry_after TEXT, lease_owner TEXT, lease_until TEXT,
    error_kind TEXT, error_code TEXT, error_message TEXT, error_at TEXT, result TEXT,
    updated_at TEXT, done_at TEXT, from_cache INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (channel_id, message_id)
);
CREATE TABLE channels (
    channel_id INTEGER PRIMARY KEY, available INTEGER NOT NULL, title TEXT, reason TEXT,
    checked_at TEXT
);
INSERT INTO incoming_messages (channel_id, message_id, text, received_at, posted_at,
    processing_status, result, updated_at, done_at)
VALUES (-1001, 7, 'old post', '2026-01-25T18:00:00.000000Z', '2026-01-25T17:59:00.000000Z',
    'done', '{"title": "old"}', '2026-01-25T18:00:01.000000Z', '2026-01-25T18:00:01.000000Z');
INSERT INTO channels VALUES (-1001, 1, 'Old channel', NULL, '2026-01-25T18:00:00.000000Z');
"""


async def test_a_file_made_by_an_earlier_version_keeps_working(sqlite_path: Path) -> None:
    with sqlite3.connect(sqlite_path) as conn:
        conn.executescript(OLD_SCHEMA)
    settings = Settings(_env_file=None, mongodb_uri=None, sqlite_path=sqlite_path)
    async with open_storage(settings) as stores:
        old = await stores.messages.get(MessageKey(-1001, 7))
        assert old is not None and old.status is MessageStatus.DONE
        assert (old.result, old.usage, old.model, old.edited_at) == (
            {"title": "old"},
            NO_USAGE,
            None,
            None,
        )
        exported = [m async for m in stores.messages.iter_matching(MessageFilter())]
        assert [m.key for m in exported] == [MessageKey(-1001, 7)]
        since = datetime(2026, 1, 25, tzinfo=UTC)
        assert [m.key async for m in stores.messages.iter_parsed_since(since)] == [old.key]
        [channel] = await stores.channels.channels()
        assert (channel.title, channel.username) == ("Old channel", None)
        await stores.state.add_usage(since, LLMUsage(1, 2, 1))
        assert await stores.state.usage_since() == LLMUsage(1, 2, 1)
    with sqlite3.connect(sqlite_path) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(incoming_messages)")}
        assert {name for name, _ in ADDED_COLUMNS["incoming_messages"]} <= columns
        assert migrate(conn) == []  # once added, never again


async def test_a_file_made_before_channel_reads_were_kept_gains_the_columns(
    sqlite_path: Path,
) -> None:
    from channel_parser.application.ports.storage import ChannelMode

    with sqlite3.connect(sqlite_path) as old:
        old.executescript(OLD_SCHEMA)
    settings = Settings(_env_file=None, mongodb_uri=None, sqlite_path=sqlite_path)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    async with open_storage(settings) as stores:
        await stores.channels.record_read(-1001, ChannelMode.LIVE, now, read_up_to=5)
        got = await stores.channels.channel(-1001)
    assert got is not None
    assert (got.title, got.mode, got.read_up_to, got.last_read_at) == (
        "Old channel",
        "live",
        5,
        now,
    )


async def test_a_learned_limit_kept_as_a_bare_number_is_still_read(sqlite_path: Path) -> None:
    """Before the ceiling was shared, the file kept the learned limit as a number."""
    settings = Settings(_env_file=None, mongodb_uri=None, sqlite_path=sqlite_path)
    async with open_storage(settings):
        pass
    with sqlite3.connect(sqlite_path) as conn:
        conn.execute("INSERT INTO service_state VALUES ('learned_limit', '6.5')")
    async with open_storage(settings) as stores:
        assert await stores.state.learned_limit() == 6.5
        seen: list[LearnedLimit | None] = []

        def learn(stored: LearnedLimit | None, others: int) -> LearnedLimit:
            seen.append(stored)
            return LearnedLimit(7.0, 8, 1.0, datetime(2026, 1, 25, tzinfo=UTC))

        await stores.state.learn_limit("w", learn, datetime(2026, 1, 25, tzinfo=UTC))
        assert seen == [LearnedLimit(6.5)]
        assert await stores.state.learned_limit() == 7.0


@pytest.mark.parametrize(
    ("value", "state"),
    [
        ('{"state": "QUOTA_EXHAUSTED", "since": "2026-01-25T18:00:00+00:00"}', "quota_exhausted"),
        ('{"state": "half-open"}', "open"),
        ("closed", "open"),  # not even JSON
    ],
)
async def test_a_quota_gate_edited_by_hand_never_stops_the_service(
    sqlite_path: Path, value: str, state: str
) -> None:
    settings = Settings(_env_file=None, mongodb_uri=None, sqlite_path=sqlite_path)
    async with open_storage(settings):
        pass
    with sqlite3.connect(sqlite_path) as conn:
        conn.execute("INSERT INTO service_state VALUES ('quota_gate', ?)", (value,))
    async with open_storage(settings) as stores:
        gate = await stores.state.quota_gate()
        assert str(gate.state) == state
        if state == "quota_exhausted":  # no probe time written: probed at once
            assert gate.probe_due(datetime(2026, 1, 25, 18, 1, tzinfo=UTC))
