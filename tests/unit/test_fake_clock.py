"""FakeClock: time moves only when a test advances it, and sleepers wake in order."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.fakes.clock import EPOCH, FakeClock


async def _sleeper(
    clock: FakeClock, seconds: float, name: str, woke: list[tuple[str, datetime]]
) -> None:
    await clock.sleep(seconds)
    woke.append((name, clock.now()))


def test_starts_at_an_aware_utc_epoch() -> None:
    clock = FakeClock()
    assert clock.now() == EPOCH
    assert clock.now().tzinfo is UTC
    start = datetime(2030, 1, 1, tzinfo=UTC)
    assert FakeClock(start).now() == start


async def test_now_does_not_move_by_itself() -> None:
    clock = FakeClock()
    await asyncio.sleep(0)
    assert clock.now() == EPOCH


async def test_sleep_blocks_until_advanced() -> None:
    clock = FakeClock()
    woke: list[tuple[str, datetime]] = []
    task = asyncio.create_task(_sleeper(clock, 10, "a", woke))
    await clock.advance(0)
    assert clock.sleepers == 1
    await clock.advance(9.999)
    assert woke == [] and not task.done()
    await clock.advance(0.001)
    assert woke == [("a", EPOCH + timedelta(seconds=10))]
    assert clock.sleepers == 0
    await task


@pytest.mark.parametrize("seconds", [0, -5])
async def test_non_positive_sleep_returns_at_once(seconds: float) -> None:
    clock = FakeClock()
    await asyncio.wait_for(clock.sleep(seconds), timeout=1)
    assert clock.now() == EPOCH
    assert clock.sleepers == 0


async def test_advance_wakes_sleepers_in_time_order_each_at_its_own_time() -> None:
    clock = FakeClock()
    woke: list[tuple[str, datetime]] = []
    tasks = [
        asyncio.create_task(_sleeper(clock, seconds, name, woke))
        for name, seconds in [("c", 30), ("a", 10), ("b", 20), ("late", 100)]
    ]
    await clock.advance(0)
    assert clock.sleepers == 4
    await clock.advance(50)
    assert woke == [
        ("a", EPOCH + timedelta(seconds=10)),
        ("b", EPOCH + timedelta(seconds=20)),
        ("c", EPOCH + timedelta(seconds=30)),
    ]
    assert clock.now() == EPOCH + timedelta(seconds=50)
    assert clock.sleepers == 1
    await clock.advance(50)
    assert woke[-1] == ("late", EPOCH + timedelta(seconds=100))
    await asyncio.gather(*tasks)


async def test_equal_deadlines_wake_in_the_order_they_slept() -> None:
    clock = FakeClock()
    woke: list[tuple[str, datetime]] = []
    tasks = [asyncio.create_task(_sleeper(clock, 5, name, woke)) for name in "xyz"]
    await clock.advance(5)
    assert [name for name, _ in woke] == ["x", "y", "z"]
    await asyncio.gather(*tasks)


async def test_a_sleeper_that_sleeps_again_is_woken_within_the_same_advance() -> None:
    clock = FakeClock()
    ticks: list[datetime] = []

    async def ticker() -> None:
        for _ in range(5):
            await clock.sleep(30)
            ticks.append(clock.now())

    task = asyncio.create_task(ticker())
    await clock.advance(100)
    assert ticks == [EPOCH + timedelta(seconds=s) for s in (30, 60, 90)]
    await clock.advance(60)
    assert len(ticks) == 5
    await task


async def test_sleepers_started_later_count_from_the_new_now() -> None:
    clock = FakeClock()
    await clock.advance(100)
    woke: list[tuple[str, datetime]] = []
    task = asyncio.create_task(_sleeper(clock, 10, "a", woke))
    await clock.advance(10)
    assert woke == [("a", EPOCH + timedelta(seconds=110))]
    await task


async def test_a_cancelled_sleeper_is_not_counted_and_does_not_block_others() -> None:
    clock = FakeClock()
    woke: list[tuple[str, datetime]] = []
    doomed = asyncio.create_task(_sleeper(clock, 5, "doomed", woke))
    survivor = asyncio.create_task(_sleeper(clock, 10, "ok", woke))
    await clock.advance(0)
    doomed.cancel()
    await asyncio.sleep(0)
    assert clock.sleepers == 1
    await clock.advance(10)
    assert woke == [("ok", EPOCH + timedelta(seconds=10))]
    assert doomed.cancelled()
    await survivor


async def test_an_hour_of_fake_time_costs_no_real_time() -> None:
    clock = FakeClock()
    woke: list[tuple[str, datetime]] = []
    tasks = [asyncio.create_task(_sleeper(clock, 60 * (i + 1), f"m{i}", woke)) for i in range(60)]
    started = time.perf_counter()
    await clock.advance(3600)
    elapsed = time.perf_counter() - started
    await asyncio.gather(*tasks)
    assert len(woke) == 60
    assert clock.now() == EPOCH + timedelta(hours=1)
    assert elapsed < 0.5


async def test_advance_zero_lets_ready_tasks_run() -> None:
    clock = FakeClock()
    ran: list[int] = []

    async def work() -> None:
        await asyncio.sleep(0)
        ran.append(1)

    task = asyncio.create_task(work())
    await clock.advance(0)
    assert ran == [1]
    assert task.done()
    assert clock.now() == EPOCH
