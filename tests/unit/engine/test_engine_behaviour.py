"""Beyond SPEC.md: misconfiguration, cache, until-idle, stuck recovery, the learned
limit, graceful shutdown and storage outages."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from channel_parser.application.errors import StorageUnavailable
from channel_parser.domain.concurrency import ConcurrencyLimit
from channel_parser.domain.failures import FailureKind, LLMFailure
from channel_parser.domain.gate import GateState
from channel_parser.domain.status import MessageStatus
from tests.fakes.llm import FakeParser, concurrency_error
from tests.unit.engine.world import Shared, World

MISCONFIGURED_HEAD = "⛔ Ошибка настройки LLM API!"


def bad_key() -> LLMFailure:
    return LLMFailure(FailureKind.MISCONFIGURED, "1002", "Authorization Token invalid")


async def test_misconfiguration_stops_claiming_and_tells_the_admins_once() -> None:
    world = World()
    world.parser.fail_when(lambda t: True, bad_key())
    world.start()
    for i in range(20):
        await world.post(i)
    await world.settle(lambda: world.state.gate.state is GateState.MISCONFIGURED)
    await world.advance(600)
    assert len(world.notifier.starting_with(MISCONFIGURED_HEAD)) == 1
    calls = len(world.parser.calls)
    assert calls <= 4  # at most the calls already in flight when the gate closed
    pending = [m for m in world.messages.messages.values() if m.status is MessageStatus.PENDING]
    assert len(pending) >= 16
    # Fixed by hand (`resume`): everything is parsed, the errored ones too.
    world.parser.rules.clear()
    await world.resume()
    world.engine.wake()
    await world.settle(
        lambda: all(m.status is MessageStatus.DONE for m in world.messages.messages.values())
    )
    await world.stop()


async def test_a_repost_reuses_the_cached_result_without_calling_the_llm() -> None:
    world = World()
    world.start()
    await world.post(1, "Ищем Python-разработчика. Удалённо.")
    await world.settle(lambda: world.message(1).status is MessageStatus.DONE)
    await world.post(2, "  Ищем  Python-разработчика.\nУдалённо. ")
    await world.settle(lambda: world.message(2).status is MessageStatus.DONE)
    assert len(world.parser.calls) == 1
    assert world.message(2).result == world.message(1).result
    assert world.message(2).from_cache
    assert (await world.messages.stats()).from_cache == 1
    assert world.metrics.cache_hits == 1
    await world.stop()


async def test_until_idle_returns_when_nothing_is_due() -> None:
    world = World()
    world.parser.fail_when(lambda t: t == "flaky", concurrency_error())
    for i in range(10):
        await world.post(i)
    await world.post(99, "flaky")
    task = world.start(until_idle=True)
    await world.settle(task.done)
    stats = await world.messages.stats()
    assert stats.by_status[MessageStatus.DONE] == 10
    assert stats.by_status[MessageStatus.RETRY] == 1
    assert world.metrics.finished["done"] == 10


async def test_a_message_held_by_a_dead_worker_is_recovered_by_the_stuck_check() -> None:
    shared = Shared()
    dead = World(shared, owner="dead")
    await dead.post(1)
    claimed = await shared.messages.claim_next("dead", shared.clock.now(), timedelta(seconds=60))
    assert claimed is not None
    alive = World(shared, owner="alive")
    alive.start()
    await alive.settle()
    assert alive.message(1).status is MessageStatus.PROCESSING
    await alive.advance(60)  # the lease expires; the stuck check runs every 60 s
    await alive.settle(lambda: alive.message(1).status is MessageStatus.DONE)
    await alive.stop()


async def test_the_lease_is_renewed_while_a_call_runs() -> None:
    world = World()
    world.parser.gate = asyncio.Event()
    world.start()
    await world.post(1)
    await world.settle(lambda: world.parser.in_flight == 1)
    await world.advance(300)  # a slow call: five lease lengths
    message = world.message(1)
    assert message.status is MessageStatus.PROCESSING
    assert message.lease_until is not None
    assert message.lease_until > world.clock.now()
    world.parser.gate.set()
    await world.settle(lambda: world.message(1).status is MessageStatus.DONE)
    await world.stop()


async def test_the_limiter_learns_the_hidden_limit_and_the_next_start_uses_it() -> None:
    hidden_limit = 6

    class LimitedParser(FakeParser):
        async def parse(self, request):  # type: ignore[no-untyped-def]
            if self.in_flight >= hidden_limit:
                self.calls.append(request)
                return concurrency_error()
            return await super().parse(request)

    shared = Shared()
    parser = LimitedParser()
    parser.gate = asyncio.Event()
    world = World(shared, parser=parser, limit=ConcurrencyLimit(limit=2, max_limit=32))
    world.start()
    for i in range(300):
        await world.post(i)
    for _ in range(150):
        await world.settle(rounds=5)
        parser.gate.set()
        await world.settle(rounds=5)
        parser.gate.clear()
        await world.advance(1)
    assert world.limiter.limit.permits == hidden_limit
    assert parser.peak_in_flight <= hidden_limit
    await world.stop()
    assert shared.state.learned is not None
    assert int(shared.state.learned.limit) == hidden_limit
    assert shared.state.permits.held(shared.clock.now()) == []  # all given back at the end
    # After a restart the learned limit is where it starts, whatever the setting says.
    restarted = World(shared, limit=ConcurrencyLimit(limit=2, max_limit=32))
    restarted.start()
    await restarted.post(1000)
    await restarted.settle(lambda: restarted.message(1000).status is MessageStatus.DONE)
    assert restarted.limiter.limit.permits == hidden_limit
    await restarted.stop()


async def test_shutdown_waits_for_calls_then_releases_what_is_left() -> None:
    world = World()
    world.parser.gate = asyncio.Event()
    world.start()
    for i in range(3):
        await world.post(i)
    await world.settle(lambda: world.parser.in_flight == 3)
    world.engine.stop()
    await world.settle()
    await world.advance(30)  # the grace time passes with the calls still hanging
    await world.settle(
        lambda: all(m.status is MessageStatus.PENDING for m in world.messages.messages.values())
    )
    assert all(m.lease_owner is None for m in world.messages.messages.values())


async def test_a_storage_outage_is_ridden_out_and_reported_once() -> None:
    world = World()
    original = world.messages.claim_next
    outage = {"on": True}

    async def flaky_claim(*args, **kwargs):  # type: ignore[no-untyped-def]
        if outage["on"]:
            raise StorageUnavailable("connection refused")
        return await original(*args, **kwargs)

    world.messages.claim_next = flaky_claim  # type: ignore[method-assign]
    world.start()
    await world.post(1)
    for _ in range(10):
        await world.advance(1)
    assert world.metrics.storage_up is False
    assert len(world.notifier.starting_with("🗄️ База данных недоступна!")) == 1
    outage["on"] = False
    await world.advance(30)
    await world.settle(lambda: world.message(1).status is MessageStatus.DONE)
    assert world.metrics.storage_up is True
    await world.stop()


async def test_only_one_process_probes_the_quota_and_the_others_do_not_spin() -> None:
    shared = Shared()
    worlds = [World(shared, owner=name) for name in ("a", "b", "c")]
    for world in worlds:
        world.parser.fail_when(lambda t: True, LLMFailure(FailureKind.QUOTA_EXHAUSTED, "1113"))
        world.start()
    await worlds[0].post(1)
    await worlds[0].settle(lambda: not shared.state.gate.is_open)
    for _ in range(20):  # twenty minutes
        await worlds[0].advance(60)
    probes = sum(1 for w in worlds for call in w.parser.calls if call.message_ref == "quota-probe")
    assert probes == 4  # every 5 minutes, by one process at a time
    for world in worlds:
        await world.stop()


async def test_stop_starts_the_grace_time_even_while_every_permit_is_busy() -> None:
    world = World(limit=ConcurrencyLimit(limit=4, max_limit=4))
    world.parser.gate = asyncio.Event()  # calls hang
    world.start()
    for i in range(8):  # more than the permits: the loop waits for one
        await world.post(i)
    await world.settle(lambda: world.parser.in_flight == 4)
    world.engine.stop()
    await world.advance(30)  # the grace time, with every call still hanging
    await world.settle(
        lambda: all(m.status is MessageStatus.PENDING for m in world.messages.messages.values())
    )
    await world.stop()


async def test_each_claim_has_an_owner_of_its_own() -> None:
    world = World()
    world.parser.gate = asyncio.Event()
    world.start()
    await world.post(1)
    await world.post(2)
    await world.settle(lambda: world.parser.in_flight == 2)
    owners = {world.message(1).lease_owner, world.message(2).lease_owner}
    assert len(owners) == 2
    assert all(owner and owner.startswith("worker-1/") for owner in owners)
    world.parser.gate.set()
    await world.settle(lambda: world.message(2).status is MessageStatus.DONE)
    await world.stop()
