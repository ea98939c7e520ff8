"""Nothing spins, hangs or crashes (issue 12), end to end: the container's engine, the real
openai SDK over HTTP against the simulator's faults, real stores (SQLite, FerretDB) with
documents edited by hand."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from channel_parser.application.ports.storage import NewPost
from channel_parser.bootstrap.container import Container
from channel_parser.domain.failures import FailureKind
from channel_parser.domain.message import MessageKey
from channel_parser.domain.status import MessageStatus
from tests.integration.engine_support import service, settings_for, simulator

CHANNEL = -1003333333333


async def stats(c: Container) -> Any:
    return await (await c.messages.async_()).stats()


async def test_three_posts_whose_replies_nest_100_000_deep_end_within_20_s_in_6_calls(
    tmp_path: Path,
) -> None:
    async with simulator(deep_levels=100_000) as sim:
        sim.trigger("глубоко", "deep")
        settings = settings_for(sim.base_url, tmp_path / "s.sqlite3", lease_seconds=3)
        async with service(settings) as c:
            ingest = await c.ingest.async_()
            for i in range(1, 4):
                await ingest(NewPost(CHANNEL, i, f"Пост {i}: ответ вложен глубоко"))
            engine = await c.engine.async_()
            worker = asyncio.create_task(engine.run())
            started = time.monotonic()
            try:
                while time.monotonic() - started < 20:
                    counts = (await stats(c)).by_status
                    if counts[MessageStatus.ERROR] == 3:
                        break
                    await asyncio.sleep(0.1)
                took = time.monotonic() - started
                await asyncio.sleep(3.5)  # past a lease: nothing comes back to be parsed again
                final = await stats(c)
            finally:
                engine.stop()
                await asyncio.wait_for(worker, 15)
    assert took < 20, f"still not out of processing after {took:.1f} s"
    assert final.by_status[MessageStatus.ERROR] == 3
    assert final.by_status[MessageStatus.PROCESSING] == 0
    assert final.errors_by_kind == {"rejected": 3}
    assert sim.stats().total_calls <= 6
    print(f"3 deep replies: out of processing in {took:.2f} s, {sim.stats().total_calls} calls")


async def _hand_edit_sqlite(path: Path, statuses: dict[int, str]) -> None:
    with sqlite3.connect(path) as db:
        for message_id, status in statuses.items():
            db.execute(
                "UPDATE incoming_messages SET processing_status = ?, retry_count = NULL "
                "WHERE message_id = ?",
                (status, message_id),
            )


async def _hand_edit_mongo(uri: str, database: str, statuses: dict[int, str]) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    try:
        for message_id, status in statuses.items():
            await client[database]["incoming_messages"].update_one(
                {"message_id": message_id},
                {"$set": {"processing_status": status}, "$unset": {"retry_count": ""}},
            )
    finally:
        await client.close()


@pytest.mark.parametrize("store", ["sqlite", "mongo"])
async def test_documents_set_to_pending_by_hand_are_parsed_and_an_unreadable_one_is_skipped(
    store: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """SPEC.md's FAQ writes the status PENDING; a typo ("PENDNG") is unreadable: skipped,
    counted and named once, and the service goes on."""
    mongo: tuple[str, str] | None = None
    if store == "mongo":
        mongo = (request.getfixturevalue("mongo_uri"), request.getfixturevalue("mongo_database"))
    edits = {1: "PENDING", 2: "PENDING", 3: "PENDING", 4: "PENDNG", 5: "Retry"}
    caplog.set_level(logging.WARNING)
    async with simulator() as sim:
        settings = settings_for(sim.base_url, tmp_path / "s.sqlite3", mongo, poll_seconds=0.1)
        async with service(settings) as c:
            ingest = await c.ingest.async_()
            for i in edits:
                await ingest(NewPost(CHANNEL, i, f"Пост номер {i} про ярмарку"))
            await asyncio.wait_for((await c.engine.async_()).run(until_idle=True), 60)
            assert (await stats(c)).by_status[MessageStatus.DONE] == 5
            if mongo is None:
                await _hand_edit_sqlite(settings.sqlite_path, edits)
            else:
                await _hand_edit_mongo(*mongo, edits)
        async with service(settings) as c:  # a new process reads the edited store
            before = await stats(c)
            await asyncio.wait_for((await c.engine.async_()).run(until_idle=True), 60)
            after = await stats(c)
            messages = await c.messages.async_()
            got = {i: await messages.get(MessageKey(CHANNEL, i)) for i in edits}
    assert before.by_status[MessageStatus.PENDING] == 3
    assert before.by_status[MessageStatus.RETRY] == 1 and before.unreadable == 1
    assert after.by_status[MessageStatus.DONE] == 4 and after.unreadable == 1
    assert all(got[i] is not None and got[i].status is MessageStatus.DONE for i in (1, 2, 3, 5))
    assert got[4] is None  # unreadable: never parsed, never fatal
    assert after.from_cache == 4  # parsed again (same texts: from the parse cache)
    assert sim.stats().total_calls == 5
    named = [r for r in caplog.records if "cannot be read" in r.getMessage()]
    assert len(named) == 1 and "PENDNG" in named[0].getMessage()


async def test_an_internal_error_in_a_real_engine_is_recorded_and_bounded(tmp_path: Path) -> None:
    """A parser that raises (a bug): the message is retried on the backoff and stops at
    INTERNAL_ERROR_LIMIT in a row instead of being parsed again at every lease."""
    async with simulator() as sim:
        settings = settings_for(
            sim.base_url,
            tmp_path / "s.sqlite3",
            lease_seconds=1,
            stuck_check_seconds=0.2,
            backoff_base_seconds=0.2,
            backoff_cap_seconds=0.4,
            internal_error_limit=3,
        )
        async with service(settings) as c:
            parser = await c.parser.async_()
            calls = 0

            async def broken(request: Any) -> Any:
                nonlocal calls
                calls += 1
                raise RecursionError("maximum recursion depth exceeded")

            parser.parse = broken
            await (await c.ingest.async_())(NewPost(CHANNEL, 1, "Пост"))
            engine = await c.engine.async_()
            worker = asyncio.create_task(engine.run())
            try:
                await asyncio.sleep(5)  # five leases long
            finally:
                engine.stop()
                await asyncio.wait_for(worker, 15)
            message = await (await c.messages.async_()).get(MessageKey(CHANNEL, 1))
            metrics = c.metrics()
    assert message is not None and message.status is MessageStatus.ERROR
    assert message.last_error is not None
    assert (message.last_error.kind, message.last_error.repeats) == (FailureKind.INTERNAL, 3)
    assert calls == 3
    sample = metrics.registry.get_sample_value(
        "channel_parser_llm_calls_total", {"outcome": "internal", "code": "RecursionError"}
    )
    assert sample == 3


async def test_a_store_made_by_an_earlier_version_is_ours_and_gains_the_new_column(
    tmp_path: Path,
) -> None:
    from channel_parser.adapters.storage.sqlite import SQLiteStorage
    from channel_parser.adapters.storage.sqlite_db import APPLICATION_ID, SCHEMA

    path = tmp_path / "old.sqlite3"
    assert "error_repeats" not in SCHEMA  # the first tables; later columns are migrations
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA)
        db.execute(
            "INSERT INTO incoming_messages (channel_id, message_id, text, received_at, "
            "processing_status, error_kind, error_code, error_message, error_at) VALUES "
            "(1, 2, 'old', '2026-01-25T18:42:51.000000Z', 'error', 'rejected', '400', 'x', "
            "'2026-01-25T18:42:51.000000Z')"
        )
    storage = await SQLiteStorage.open(path)
    try:
        message = await storage.messages.get(MessageKey(1, 2))
    finally:
        await storage.close()
    assert message is not None and message.last_error is not None
    assert message.last_error.repeats == 1
    with sqlite3.connect(path) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(incoming_messages)")}
        assert "error_repeats" in columns
        assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
