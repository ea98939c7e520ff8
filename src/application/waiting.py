"""The one wait the long-running loops share: a time, cut short by a wake-up."""

from __future__ import annotations

import asyncio

from channel_parser.application.ports.clock import Clock


async def sleep_unless_woken(clock: Clock, wake: asyncio.Event, seconds: float) -> None:
    """Wait *seconds* on *clock*, or until *wake* is set; *wake* is clear afterwards.

    A wake-up set before the call ends the wait after one turn of the event loop (none
    is lost between two waits). Both waits are cancelled on the way out, cancellation included."""
    if wake.is_set():
        wake.clear()
        await asyncio.sleep(0)  # still a turn for the others: a loop that wakes itself never spins
        return
    woken = asyncio.ensure_future(wake.wait())
    sleeping = asyncio.ensure_future(clock.sleep(seconds))
    try:
        await asyncio.wait({woken, sleeping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        woken.cancel()
        sleeping.cancel()
        wake.clear()
