"""sleep_unless_woken: the one wait of the long-running loops."""

from __future__ import annotations

import asyncio

from channel_parser.application.waiting import sleep_unless_woken
from tests.fakes.clock import FakeClock


async def test_it_ends_when_the_time_has_come() -> None:
    clock, wake = FakeClock(), asyncio.Event()
    waiting = asyncio.create_task(sleep_unless_woken(clock, wake, 30))
    await clock.advance(29)
    assert not waiting.done()
    await clock.advance(1)
    assert waiting.done()
    assert clock.sleepers == 0


async def test_a_wake_up_ends_it_early_and_is_used_up() -> None:
    clock, wake = FakeClock(), asyncio.Event()
    waiting = asyncio.create_task(sleep_unless_woken(clock, wake, 30))
    await clock.advance(1)
    wake.set()
    await clock.advance(0)
    assert waiting.done()
    assert not wake.is_set()
    assert clock.sleepers == 0  # the sleep it no longer needs is cancelled


async def test_a_wake_up_set_before_the_wait_is_not_lost() -> None:
    clock, wake = FakeClock(), asyncio.Event()
    wake.set()
    await asyncio.wait_for(sleep_unless_woken(clock, wake, 3600), timeout=1)
    assert not wake.is_set()


async def test_cancelling_it_leaves_nothing_waiting() -> None:
    clock, wake = FakeClock(), asyncio.Event()
    waiting = asyncio.create_task(sleep_unless_woken(clock, wake, 30))
    await clock.advance(0)
    waiting.cancel()
    await clock.advance(0)
    assert waiting.cancelled()
    assert clock.sleepers == 0
