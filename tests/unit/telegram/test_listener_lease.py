"""One listener per Telegram account: the lease in the shared ServiceState."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from channel_parser.application.errors import StorageUnavailable
from channel_parser.application.use_cases.listener_lease import ListenerLease, listener_lease_name
from tests.fakes.clock import FakeClock
from tests.fakes.storage import InMemoryServiceState

TTL = timedelta(seconds=60)


class Listener:
    def __init__(self) -> None:
        self.running = False
        self.started = 0
        self.cancelled = 0

    async def __call__(self) -> None:
        self.started += 1
        self.running = True
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.running = False


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_lease_name() -> None:
    assert listener_lease_name("channel-parser") == "telegram-listener:channel-parser"


async def test_second_process_is_a_worker_only_until_the_first_stops() -> None:
    clock, state = FakeClock(), InMemoryServiceState()
    first = ListenerLease(state, clock, "acct", "host-a:1", TTL)
    second = ListenerLease(state, clock, "acct", "host-b:2", TTL)
    a, b = Listener(), Listener()
    task_a = asyncio.create_task(first.hold(a))
    await clock.advance(0)
    task_b = asyncio.create_task(second.hold(b))
    await clock.advance(0)
    assert (a.running, b.running) == (True, False)
    assert (first.holding, second.holding) == (True, False)

    await clock.advance(600)  # the holder renews: the other never gets in
    assert (a.running, b.running) == (True, False)
    assert state.leases["telegram-listener:acct"][0] == "host-a:1"

    await stop(task_a)  # a graceful stop releases the lease at once
    assert "telegram-listener:acct" not in state.leases
    await clock.advance(second.retry_every)
    assert b.running and second.holding
    await stop(task_b)


async def test_a_crashed_holder_is_replaced_once_its_lease_expires() -> None:
    clock, state = FakeClock(), InMemoryServiceState()
    await state.acquire_lease("telegram-listener:acct", "dead:1", clock.now(), TTL)
    lease = ListenerLease(state, clock, "acct", "alive:2", TTL)
    listener = Listener()
    task = asyncio.create_task(lease.hold(listener))
    await clock.advance(59)
    assert not listener.running
    await clock.advance(30)
    assert listener.running
    await stop(task)


async def test_losing_the_lease_stops_listening_and_waits_again() -> None:
    clock, state = FakeClock(), InMemoryServiceState()
    lease = ListenerLease(state, clock, "acct", "me", TTL)
    listener = Listener()
    task = asyncio.create_task(lease.hold(listener))
    await clock.advance(0)
    assert listener.running
    # another process took it over (say this one stalled past its ttl)
    state.leases[lease.name] = ("other", clock.now() + timedelta(hours=1))
    await clock.advance(lease.renew_every)
    assert not listener.running and listener.cancelled == 1
    assert not lease.holding
    assert state.leases[lease.name][0] == "other"  # not released by the loser
    del state.leases[lease.name]
    await clock.advance(lease.retry_every)
    assert listener.running and listener.started == 2
    await stop(task)


async def test_store_down_keeps_listening_until_the_ttl_runs_out() -> None:
    clock, state = FakeClock(), InMemoryServiceState()
    lease = ListenerLease(state, clock, "acct", "me", TTL)
    listener = Listener()
    task = asyncio.create_task(lease.hold(listener))
    await clock.advance(0)
    working = state.acquire_lease

    async def down(name: str, owner: str, now: datetime, ttl: timedelta) -> bool:
        raise StorageUnavailable("database unreachable")

    state.acquire_lease = down  # type: ignore[method-assign]
    await clock.advance(40)  # two renewals failed, 40 s after the last good one
    assert listener.running
    await clock.advance(20)  # 60 s: the lease may be someone else's now
    assert not listener.running
    state.acquire_lease = working  # type: ignore[method-assign]
    await clock.advance(lease.retry_every)
    assert listener.running
    await stop(task)


async def test_an_error_of_the_listener_goes_to_the_caller_and_the_lease_is_released() -> None:
    clock, state = FakeClock(), InMemoryServiceState()
    lease = ListenerLease(state, clock, "acct", "me", TTL)

    async def broken() -> None:
        raise RuntimeError("session revoked")

    with pytest.raises(RuntimeError, match="session revoked"):
        await lease.hold(broken)
    assert state.leases == {}
