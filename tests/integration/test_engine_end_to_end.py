"""SPEC.md's own tests, end to end: the container's engine, the real openai SDK over
HTTP against the Z.AI simulator, on SQLite and on the MongoDB-protocol server."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from channel_parser.application.ports.storage import NewPost
from channel_parser.domain.backoff import BackoffPolicy
from channel_parser.domain.failures import FailureKind, LLMFailure
from channel_parser.domain.message import MessageKey
from channel_parser.domain.status import MessageStatus
from tests.fakes.notify import RecordingNotifier
from tests.integration.engine_support import KEY, service, settings_for, simulator

CHANNEL = -1001111111111


@pytest.fixture(params=["sqlite", "mongodb"])
def store_args(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, object]:
    if request.param == "sqlite":
        return {"sqlite_path": tmp_path / "store.sqlite3"}
    uri = request.getfixturevalue("mongo_uri")
    database = request.getfixturevalue("mongo_database")
    return {"sqlite_path": tmp_path / "unused.sqlite3", "mongo": (uri, database)}


async def test_a_concurrency_error_puts_the_message_in_retry_and_logs_it(
    store_args: dict[str, object], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    notifier = RecordingNotifier()
    async with simulator() as sim:
        sim.script("1302")
        async with service(settings_for(sim.base_url, **store_args), notifier) as c:  # type: ignore[arg-type]
            ingest = await c.ingest.async_()
            await ingest(NewPost(CHANNEL, 123456, "Ищем backend-разработчика"))
            engine = await c.engine.async_()
            before = datetime.now(UTC)
            await asyncio.wait_for(engine.run(until_idle=True), 30)
            message = await (await c.messages.async_()).get(MessageKey(CHANNEL, 123456))
    assert message is not None
    assert message.status is MessageStatus.RETRY
    assert message.retry_count == 1
    assert message.retry_after is not None
    assert timedelta(seconds=29) < message.retry_after - before < timedelta(seconds=32)
    assert message.last_error is not None and message.last_error.code == "1302"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    line = next(w for w in warnings if "concurrency limit exceeded" in w)
    assert line.startswith(
        f"LLM concurrency limit exceeded while parsing message {CHANNEL}/123456 (provider: zai): "
        "Error code: 429 - {'error': {'code': '1302', 'message': "
    )
    assert line.endswith(". Will retry with backoff.")
    assert all(KEY not in r.getMessage() for r in caplog.records)
    assert len(notifier.starting_with("⚠️ Превышен лимит concurrency LLM API!")) == 1


async def test_a_due_retry_is_processed_after_a_restart(store_args: dict[str, object]) -> None:
    """SPEC.md: create a message in RETRY with retry_after in the past, restart the
    service, check that the message gets processed."""
    async with simulator() as sim:
        settings = settings_for(sim.base_url, **store_args)  # type: ignore[arg-type]
        async with service(settings) as first:
            messages = await first.messages.async_()
            await (await first.ingest.async_())(NewPost(CHANNEL, 7, "Продам гараж"))
            long_ago = datetime.now(UTC) - timedelta(hours=1)
            claimed = await messages.claim_next("old-worker", long_ago, timedelta(minutes=1))
            assert claimed is not None
            claimed.schedule_retry(
                "old-worker",
                LLMFailure(FailureKind.CONCURRENCY_LIMITED, "1302"),
                BackoffPolicy(),
                long_ago,
            )
            assert await messages.save(claimed, "old-worker")
        stored = claimed
        assert stored.status is MessageStatus.RETRY and stored.retry_after < datetime.now(UTC)

        async with service(settings) as restarted:  # the restart
            engine = await restarted.engine.async_()
            await asyncio.wait_for(engine.run(until_idle=True), 30)
            message = await (await restarted.messages.async_()).get(MessageKey(CHANNEL, 7))
    assert message is not None
    assert message.status is MessageStatus.DONE
    assert message.result is not None and "summary" in message.result
    assert sim.stats().successes == 1


async def test_an_empty_balance_stops_parsing_and_a_top_up_resumes_it(
    store_args: dict[str, object],
) -> None:
    notifier = RecordingNotifier()
    async with simulator(balance=3, latency={"ms": 20}) as sim:
        settings = settings_for(sim.base_url, **store_args)  # type: ignore[arg-type]
        async with service(settings, notifier) as c:
            ingest = await c.ingest.async_()
            for i in range(10):
                await ingest(NewPost(CHANNEL, i, f"Пост номер {i}: новости дня"))
            engine = await c.engine.async_()
            worker = asyncio.create_task(engine.run())
            state = await c.state.async_()
            for _ in range(100):
                await asyncio.sleep(0.1)
                if not (await state.quota_gate()).is_open:
                    break
            assert not (await state.quota_gate()).is_open
            stats = await (await c.messages.async_()).stats()
            # the calls already in flight when the balance ran out may still have been served
            assert 3 <= stats.by_status[MessageStatus.DONE] < 10
            assert stats.errors_by_kind.get("quota_exhausted", 0) >= 1
            sim.top_up(100)
            for _ in range(100):
                await asyncio.sleep(0.1)
                stats = await (await c.messages.async_()).stats()
                if stats.by_status[MessageStatus.DONE] == 10:
                    break
            engine.stop()
            await asyncio.wait_for(worker, 30)
    assert stats.by_status[MessageStatus.DONE] == 10
    assert len(notifier.starting_with("🚨 Исчерпан лимит LLM API!")) == 1
    restored = notifier.starting_with("✅ Лимит LLM API восстановлен!")
    assert len(restored) == 1
