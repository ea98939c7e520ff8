"""Racing writers of the shared service state: exactly one wins a notification slot or a
named lease. Each racer has its own connection (its own client or SQLite connection)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from channel_parser.bootstrap.settings import Settings
from channel_parser.bootstrap.storage import Stores, open_storage
from channel_parser.domain.failures import NotificationKind
from channel_parser.domain.throttle import NotificationThrottle

RACERS = 8
ROUNDS = 5
T0 = datetime(2026, 1, 25, 18, 42, 51, tzinfo=UTC)
FIVE_MINUTES = timedelta(minutes=5)
THROTTLE = NotificationThrottle()  # RATE_LIMITED: at most once per five minutes


@pytest.fixture(params=["sqlite", "mongodb"])
async def racers(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[list[Stores]]:
    if request.param == "sqlite":
        settings = Settings(_env_file=None, mongodb_uri=None, sqlite_path=tmp_path / "s.sqlite3")
    else:
        uri = request.getfixturevalue("mongo_uri")
        database = request.getfixturevalue("mongo_database")
        settings = Settings(_env_file=None, mongodb_uri=uri, mongodb_database=database)
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(open_storage(settings)) for _ in range(RACERS)]


async def test_exactly_one_racer_takes_the_notification_slot(racers: list[Stores]) -> None:
    kind = NotificationKind.RATE_LIMITED
    for n in range(ROUNDS):
        now = T0 + n * FIVE_MINUTES
        results = await asyncio.gather(
            *(
                s.state.take_notification_slot(kind, now, THROTTLE.decider(kind, now))
                for s in racers
            )
        )
        assert sum(r.taken for r in results) == 1, results
        # the losers were counted, and the next winner is told so
        if n:
            assert [r.suppressed_before for r in results if r.taken] == [RACERS - 1]


async def test_exactly_one_racer_takes_a_named_lease(racers: list[Stores]) -> None:
    ttl = timedelta(seconds=60)
    for n in range(ROUNDS):
        now = T0 + n * timedelta(seconds=61)  # the previous holder's lease has expired
        won = await asyncio.gather(
            *(
                s.state.acquire_lease("listener", f"r{n}p{i}", now, ttl)
                for i, s in enumerate(racers)
            )
        )
        assert sum(won) == 1, won
