"""One learned limit for every worker: several processes (Worlds) on one store share the
permits it sizes; a dead worker's permits come back after their lease; a store that does
not answer neither stalls a worker nor lets it run more than its floor unshared."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from channel_parser.application.errors import StorageUnavailable
from channel_parser.application.ports.llm import ParseOutcome, ParseRequest
from channel_parser.domain.concurrency import ConcurrencyLimit
from channel_parser.domain.status import MessageStatus
from tests.fakes.llm import FakeParser, concurrency_error
from tests.unit.engine.world import Shared, World

LEASE = 10.0  # seconds: LimiterConfig's default permit lease


class Provider:
    """One LLM provider that several workers call, with a hidden concurrency limit."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self.in_flight = 0
        self.peak = 0
        self.refused = 0
        self.answered = 0
        self.go = asyncio.Event()  # calls are held until it is set

    def parser(self) -> FakeParser:
        provider = self

        class Shared(FakeParser):
            async def parse(self, request: ParseRequest) -> ParseOutcome:
                if provider.limit is not None and provider.in_flight >= provider.limit:
                    provider.refused += 1
                    self.calls.append(request)
                    return concurrency_error()
                provider.in_flight += 1
                provider.peak = max(provider.peak, provider.in_flight)
                try:
                    await provider.go.wait()
                    return await super().parse(request)
                finally:
                    provider.in_flight -= 1
                    provider.answered += 1

        return Shared()


def workers(shared: Shared, provider: Provider, n: int, **kwargs: Any) -> list[World]:
    return [World(shared, parser=provider.parser(), owner=f"w{i}", **kwargs) for i in range(n)]


async def test_three_workers_never_run_more_calls_than_the_one_limit_together() -> None:
    shared, provider = Shared(), Provider()
    three = workers(shared, provider, 3, limit=ConcurrencyLimit(limit=4, max_limit=4))
    for world in three:
        world.start()
    for i in range(40):
        await three[0].post(i)
    await three[0].settle(lambda: provider.in_flight == 4, rounds=500)
    await three[0].settle(rounds=200)
    assert provider.in_flight == 4  # each would run 4 alone: 12 without a shared limit
    holders = {slot.owner for slot in shared.state.permits.held(shared.clock.now())}
    assert len(shared.state.permits.held(shared.clock.now())) == 4 and holders
    for _ in range(40):  # let the calls through, a window at a time
        provider.go.set()
        await three[0].settle(rounds=20)
        provider.go.clear()
        await three[0].advance(0.25)
    provider.go.set()
    await three[0].settle(
        lambda: all(m.status is MessageStatus.DONE for m in shared.messages.messages.values())
    )
    assert provider.peak == 4
    assert provider.answered == 40
    for world in three:
        await world.stop()
    assert shared.state.permits.held(shared.clock.now()) == []  # all given back


async def test_they_learn_the_hidden_limit_together() -> None:
    shared, provider = Shared(), Provider(limit=5)
    three = workers(shared, provider, 3, limit=ConcurrencyLimit(limit=2, max_limit=32))
    for world in three:
        world.start()
    for i in range(400):
        await three[0].post(i)
    for _ in range(300):
        await three[0].settle(rounds=5)
        provider.go.set()
        await three[0].settle(rounds=5)
        provider.go.clear()
        await three[0].advance(0.2)
    assert shared.state.learned is not None and int(shared.state.learned.limit) == 5
    assert all(world.limiter.limit.permits == 5 for world in three)
    # Probes above the limit are single calls: the provider refused a few, rarely.
    assert 0 < provider.refused <= 0.05 * (provider.answered + provider.refused)
    for world in three:
        await world.stop()


async def test_a_dead_workers_permits_come_back_when_their_lease_runs_out() -> None:
    shared, provider = Shared(), Provider()
    provider.go.set()
    limit = ConcurrencyLimit(limit=3, max_limit=3)
    # A worker took every permit and died (nothing gives them back).
    await shared.state.take_permits("dead", 3, limit, shared.clock.now(), timedelta(seconds=LEASE))
    (alive,) = workers(shared, provider, 1, limit=limit)
    alive.start()
    await alive.post(1)
    await alive.settle(rounds=200)
    for _ in range(int(LEASE) - 1):
        await alive.advance(1)
    assert alive.message(1).status is MessageStatus.PROCESSING  # claimed, waiting
    assert provider.answered == 0
    await alive.advance(1.5)
    await alive.settle(lambda: alive.message(1).status is MessageStatus.DONE)
    await alive.stop()


async def test_a_store_that_does_not_answer_leaves_the_worker_one_call_at_a_time() -> None:
    shared, provider = Shared(), Provider()
    provider.go.set()
    (world,) = workers(shared, provider, 1, limit=ConcurrencyLimit(limit=4, max_limit=4))
    world.start()
    for i in range(4):
        await world.post(i)
    await world.settle(
        lambda: all(m.status is MessageStatus.DONE for m in shared.messages.messages.values())
    )
    assert len(shared.state.permits.held_by("w0", shared.clock.now())) > 0  # kept: no idle yet

    async def down(*args: Any, **kwargs: Any) -> Any:
        raise StorageUnavailable("connection refused")

    state = shared.state
    state.take_permits = down  # type: ignore[method-assign]
    state.learn_limit = down  # type: ignore[method-assign]
    state.return_permits = down  # type: ignore[method-assign]
    provider.go.clear()
    for i in range(4, 20):
        await world.post(i)
    await world.settle(lambda: provider.in_flight == 4, rounds=500)  # on the slots it holds
    provider.go.set()
    await world.settle(rounds=50)
    provider.go.clear()
    await world.advance(LEASE + 1)  # the slots' lease runs out: no renewal got through
    provider.go.set()
    await world.settle(rounds=50)
    provider.go.clear()
    peak_before = provider.peak
    provider.peak = provider.in_flight
    for _ in range(6):  # the worker goes on, one call at a time (CONCURRENCY_MIN)
        await world.settle(rounds=50)
        assert provider.in_flight <= 1
        provider.go.set()
        await world.settle(rounds=10)
        provider.go.clear()
        await world.advance(1)
    assert provider.peak <= 1 and peak_before == 4
    assert provider.answered >= 10  # it never stalled
    del state.take_permits, state.learn_limit, state.return_permits  # the store is back
    provider.go.set()
    await world.advance(2)
    await world.settle(
        lambda: all(m.status is MessageStatus.DONE for m in shared.messages.messages.values())
    )
    assert world.limiter.limit.permits == 4
    await world.stop()


async def test_a_fixed_pool_uses_no_shared_permits() -> None:
    """SPEC.md's policy alone (the benchmark's baseline): each process its own pool."""
    shared, provider = Shared(), Provider()
    fixed = ConcurrencyLimit(limit=3, max_limit=3)
    two = workers(shared, provider, 2, limit=fixed, adaptive=False)
    for world in two:
        world.start()
    for i in range(20):
        await two[0].post(i)
    await two[0].settle(lambda: provider.in_flight == 6, rounds=500)
    assert shared.state.permits.slots == () and shared.state.learned is None
    provider.go.set()
    await two[0].settle(
        lambda: all(m.status is MessageStatus.DONE for m in shared.messages.messages.values())
    )
    for world in two:
        await world.stop()


async def test_after_a_refusal_no_new_call_starts_until_one_of_ours_succeeds() -> None:
    """Another worker's call above the limit may still fill the provider: calling into it
    again at once would be refused again, in a burst."""
    shared = Shared()
    fixed = ConcurrencyLimit(limit=3, min_limit=3, max_limit=3)  # a refusal cuts nothing
    (world,) = workers(shared, Provider(), 1, limit=fixed)
    limiter = world.limiter
    limiter.start()
    permits = [await limiter.acquire() for _ in range(3)]
    await limiter.release(permits[0], refused=True)
    waiting = asyncio.ensure_future(limiter.acquire())
    await world.settle(rounds=50)
    assert not waiting.done()  # a permit is free, but the provider was full a moment ago
    await limiter.release(permits[1], refused=False)  # one of ours ended well: room again
    await world.settle(waiting.done)
    await limiter.release(waiting.result(), refused=None)
    await limiter.release(permits[2], refused=None)
    await limiter.close()


async def test_stop_gives_back_the_messages_claimed_ahead_and_starts_no_call() -> None:
    shared, provider = Shared(), Provider()
    (world,) = workers(shared, provider, 1, limit=ConcurrencyLimit(limit=4, max_limit=4))
    world.start()
    for i in range(10):
        await world.post(i)
    await world.settle(lambda: provider.in_flight == 4, rounds=500)
    await world.settle(rounds=100)
    waiting = [m for m in shared.messages.messages.values() if m.status is MessageStatus.PROCESSING]
    assert len(waiting) == 4 + world.config.prefetch  # two claimed ahead of a permit
    world.engine.stop()
    await world.settle(
        lambda: (
            sum(m.status is MessageStatus.PROCESSING for m in shared.messages.messages.values())
            == 4
        )
    )  # at once, not after the grace time: only the four at the provider are held
    provider.go.set()  # the calls in flight end; nothing new starts
    await world.stop()
    assert provider.answered == 4 and len(world.parser.calls) == 4
    assert sum(m.status is MessageStatus.DONE for m in shared.messages.messages.values()) == 4
