"""The database goes away: `channel-parser run --no-listener` works through a backlog on
a FerretDB of this test's own, which is stopped for ~10 seconds in the middle and
started again on the same port with the same data. The service keeps running, logs the
outage and the recovery, shows `channel_parser_storage_up` 0 and then 1, sends one
storage-outage notification, resumes by itself, and every post ends `done` exactly once.

Posts arriving meanwhile: a post the store refused during the outage is fetched again
by the Telethon source's next backfill (unit-tested in tests/unit/telegram); here more
posts are stored right after the restart and must be parsed as well.

The server is killed (SIGKILL: a crash, a lost host): every connection drops at once.
DB_OUTAGE_SECONDS (default 10) sets how long it stays away. An outage shorter than the
lease (LEASE_SECONDS, 30 s here) and the saves' retry time (30 s) costs no LLM call
twice; after a longer one the leases of the calls in flight have expired, the stuck
check gives those messages back, their outcomes are refused as "lease lost" and they
are parsed again (one more call each; still one document each).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pymongo import MongoClient

from channel_parser.bootstrap.storage import open_storage
from channel_parser.domain.failures import NotificationKind
from channel_parser.domain.status import MessageStatus
from channel_parser.domain.throttle import NotificationThrottle
from tests.integration.cli_support import CLI, free_port
from tests.integration.ferretdb_process import FerretDB, ferretdb_binary
from tests.integration.scale_support import (
    CHANNEL,
    mongo_settings,
    scrape,
    service_env,
    simulator,
    simulator_stats,
    statuses,
    stop,
    store_posts,
    wait_until,
)

DATABASE = "outage"
BEFORE = 120  # posts stored before the service starts
AFTER = 20  # posts stored right after the restart
DONE_BEFORE_OUTAGE = 20
OUTAGE_SECONDS = float(os.environ.get("DB_OUTAGE_SECONDS", "10"))
UP = "channel_parser_storage_up"
DONE = 'channel_parser_messages_finished_total{status="done"}'
OUTAGE_TEXT = "База данных недоступна"
KIND = NotificationKind.STORAGE_OUTAGE


@pytest.fixture
def ferretdb(tmp_path: Path) -> Iterator[FerretDB]:
    server = FerretDB(ferretdb_binary(), tmp_path / "ferretdb", free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_storage_outage_is_reported_ridden_out_and_loses_no_post(
    tmp_path: Path, ferretdb: FerretDB
) -> None:
    settings = mongo_settings(ferretdb.uri, DATABASE)
    asyncio.run(store_posts(settings, 0, BEFORE))
    port = free_port()
    with simulator(tmp_path, limit=6, latency_ms=50) as sim:
        env = service_env(
            sim,
            MONGODB_URI=ferretdb.uri,
            MONGODB_DATABASE=DATABASE,
            METRICS_PORT=str(port),
            STUCK_CHECK_SECONDS="60",  # the default: recovery is the engine's own backoff
        )
        with (tmp_path / "out.log").open("w") as out, (tmp_path / "err.log").open("w") as err:
            service = subprocess.Popen(
                [*CLI, "run", "--no-listener"], env=env, cwd=tmp_path, stdout=out, stderr=err
            )
        try:
            assert wait_until(lambda: scrape(port).get(DONE, 0) >= DONE_BEFORE_OUTAGE, 60, 0.05)
            assert scrape(port)[UP] == 1

            stopped = time.monotonic()
            done_at_stop = scrape(port)[DONE]
            ferretdb.kill()
            # The first failing call waits out the 5 s server selection, then reports.
            assert wait_until(lambda: scrape(port).get(UP) == 0, OUTAGE_SECONDS - 1, 0.2)
            reported = time.monotonic() - stopped
            done_during = scrape(port)[DONE]
            time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped)))
            assert service.poll() is None, "the service exited during the outage"
            assert scrape(port)[UP] == 0
            assert scrape(port)[DONE] == done_during  # nothing finished without the store

            restarted = time.monotonic()
            downtime = restarted - stopped
            ferretdb.start()
            answering = time.monotonic() - restarted
            assert wait_until(lambda: scrape(port).get(UP) == 1, 40, 0.2)
            recovered = time.monotonic() - restarted
            asyncio.run(store_posts(settings, BEFORE, AFTER))  # arriving after the restart
            assert wait_until(lambda: scrape(port).get(DONE, 0) >= BEFORE + AFTER, 120)
            assert service.poll() is None
        finally:
            stop(service)
        stats = simulator_stats(sim)

    print(
        f"\noutage: FerretDB down {downtime:.1f} s; storage_up 0 after {reported:.1f} s; "
        f"FerretDB answering {answering:.1f} s and storage_up 1 {recovered:.1f} s after the "
        f"restart; {int(done_at_stop)} of {BEFORE} done when stopped, {int(done_during)} when "
        f"reported; LLM calls {stats['total_calls']} for {BEFORE + AFTER} posts "
        f"(successes {stats['successes']})"
    )
    log = (tmp_path / "err.log").read_text() + (tmp_path / "out.log").read_text()
    assert service.returncode == 0, log[-3000:]
    assert log.count("storage unavailable:") == 1, log[-3000:]
    assert "storage available again after" in log
    assert log.count(OUTAGE_TEXT) == 1, log[-3000:]  # one admin notification
    assert "Traceback" not in log, log[-3000:]
    stored = asyncio.run(statuses(settings))
    assert max(stored.values()) == 1  # one document per post
    assert {i for i, _ in stored} == set(range(BEFORE + AFTER))  # none lost
    assert Counter(status for _, status in stored) == {MessageStatus.DONE: BEFORE + AFTER}
    assert len(stats["successes_by_text"]) == BEFORE + AFTER
    if OUTAGE_SECONDS < 25:  # within the lease and the saves' retry time: no re-parse
        assert set(stats["successes_by_text"].values()) == {1}  # each parsed once


async def _claims_after_an_orphaned_token(uri: str, database: str) -> list[int | None]:
    settings = mongo_settings(uri, database)
    await store_posts(settings, 0, 2)
    # A claimer inserted the token of message 0's current generation, then the store
    # went away (or the claimer died) before it set the lease: message 0 stays due.
    with MongoClient(uri, serverSelectionTimeoutMS=5000) as client:
        client[database].claim_tokens.insert_one(
            {"_id": f"{CHANNEL}:0#0", "owner": "gone", "at": datetime.now(UTC)}
        )
    lease = timedelta(seconds=30)
    claimed: list[int | None] = []
    async with open_storage(settings) as stores:
        for now in (
            datetime.now(UTC),  # message 0 is skipped, not spun on: message 1
            datetime.now(UTC) + timedelta(seconds=10),  # the token is recent: nothing
            datetime.now(UTC) + lease * 2,  # the token outlived a lease: message 0
        ):
            message = await asyncio.wait_for(stores.messages.claim_next("w", now, lease), 10)
            claimed.append(None if message is None else message.message_id)
    return claimed


def test_a_claim_token_orphaned_by_an_outage_neither_blocks_claims_nor_strands_its_message(
    mongo_uri: str, mongo_database: str
) -> None:
    """Found by the outage test: the store went away between the token insert and the
    lease write; every later claim spun on that message's duplicate token forever."""
    assert asyncio.run(_claims_after_an_orphaned_token(mongo_uri, mongo_database)) == [
        1,
        None,
        0,
    ]


async def _state_after_orphaned_tokens(uri: str, database: str) -> list[bool]:
    now = datetime.now(UTC)
    with MongoClient(uri, serverSelectionTimeoutMS=5000) as client:
        state = client[database].service_state
        # Tokens whose winners never moved the lease or slot on (the store went away).
        state.insert_one({"_id": "token:lease:listener#0", "owner": "gone", "at": now})
        state.insert_one({"_id": "token:notify:storage_outage#0", "owner": "gone", "at": now})
    async with open_storage(mongo_settings(uri, database)) as stores:
        ttl = timedelta(seconds=30)
        later = now + timedelta(minutes=10)
        decide = NotificationThrottle().decider(KIND, later)
        return [
            await stores.state.acquire_lease("listener", "w", now, ttl),  # still recent
            await stores.state.acquire_lease("listener", "w", later, ttl),  # orphaned
            (await stores.state.take_notification_slot(KIND, later, decide)).taken,
        ]


def test_a_lease_or_slot_token_orphaned_by_an_outage_does_not_block_it_for_good(
    mongo_uri: str, mongo_database: str
) -> None:
    """The same two-write gap in the shared state: an orphaned token kept every process
    from the listener lease (no Telegram listener at all) or a notification slot."""
    assert asyncio.run(_state_after_orphaned_tokens(mongo_uri, mongo_database)) == [
        False,
        True,
        True,
    ]
