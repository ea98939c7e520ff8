"""Nothing spins, hangs or crashes (issue 12): every failure while a message is held ends
in a recorded status, with the calls per message bounded by the backoff schedule; a stop
is honoured while calls hang; a one-shot batch waits out a dead worker's leases; a
misconfiguration is probed again when the settings change; a returning balance clears
the quota throttle."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest

from channel_parser.domain.concurrency import ConcurrencyLimit
from channel_parser.domain.failures import FailureKind, LLMFailure
from channel_parser.domain.gate import GateState
from channel_parser.domain.status import MessageStatus
from tests.fakes.llm import concurrency_error, quota_error
from tests.unit.engine.world import Shared, World, fast_config

QUOTA_HEAD = "🚨 Исчерпан лимит LLM API!"
RESTORED_HEAD = "✅ Лимит LLM API восстановлен!"
MISCONFIGURED_HEAD = "⛔ Ошибка настройки LLM API!"


def bad_key() -> LLMFailure:
    return LLMFailure(FailureKind.MISCONFIGURED, "1002", "Authorization Token invalid")


async def test_an_exception_in_the_parser_is_an_internal_error_on_the_backoff() -> None:
    world = World()
    world.parser.script(RecursionError("maximum recursion depth exceeded"))
    world.start()
    await world.post(1)
    await world.settle(lambda: world.message(1).status is MessageStatus.RETRY)
    message = world.message(1)
    assert message.last_error is not None
    assert (message.last_error.kind, message.last_error.code) == (
        FailureKind.INTERNAL,
        "RecursionError",
    )
    assert message.retry_count == 1
    assert message.retry_after == world.clock.now() + timedelta(seconds=30)
    assert world.metrics.calls[("internal", "RecursionError")] == 1
    assert world.metrics.finished["retry"] == 1
    assert (await world.messages.stats()).retry_histogram == {1: 1}
    await world.advance(30)  # the next attempt succeeds
    await world.settle(lambda: world.message(1).status is MessageStatus.DONE)
    assert len(world.parser.calls) == 2
    await world.stop()


async def test_calls_per_message_are_bounded_whatever_goes_wrong() -> None:
    """A parser that always raises: three calls (0, 30 s, 90 s), then ERROR, then none."""
    world = World(config=fast_config(poll_interval=timedelta(minutes=10)))  # the retry timer
    world.parser.fail_when(lambda text: True, concurrency_error())  # not used: raises first
    for _ in range(100):
        world.parser.script(ValueError("a bug in output checking"))
    world.start()
    await world.post(1)
    for _ in range(12):  # two hours
        await world.advance(600)
    message = world.message(1)
    assert len(world.parser.calls) == 3
    assert message.status is MessageStatus.ERROR
    assert message.last_error is not None
    assert (message.last_error.kind, message.last_error.repeats) == (FailureKind.INTERNAL, 3)
    assert (await world.messages.stats()).errors_by_kind == {"internal": 1}
    await world.stop()


async def test_an_exception_outside_the_call_is_recorded_as_well() -> None:
    """A failing cache read (not a storage error) must not leave the message held."""
    world = World()
    original = world.shared.cache.get

    async def broken(fingerprint: str) -> None:
        raise ValueError("cached result is not JSON")

    world.shared.cache.get = broken  # type: ignore[method-assign]
    world.start()
    await world.post(1)
    await world.settle(lambda: world.message(1).status is MessageStatus.RETRY)
    message = world.message(1)
    assert message.last_error is not None and message.last_error.kind is FailureKind.INTERNAL
    assert message.lease_owner is None and world.parser.calls == []
    world.shared.cache.get = original  # type: ignore[method-assign]
    await world.advance(30)
    await world.settle(lambda: world.message(1).status is MessageStatus.DONE)
    await world.stop()


async def test_an_exception_after_the_outcome_was_saved_does_not_overwrite_it() -> None:
    world = World()
    world.parser.script(concurrency_error())

    async def broken_send(text: str) -> bool:
        raise RuntimeError("the notifier broke")

    world.notifier.send = broken_send  # type: ignore[method-assign]
    world.start()
    await world.post(1)
    await world.settle(lambda: world.message(1).status is MessageStatus.RETRY)
    await world.settle(rounds=50)
    message = world.message(1)
    assert message.last_error is not None
    assert message.last_error.kind is FailureKind.CONCURRENCY_LIMITED
    assert message.retry_count == 1
    await world.stop()


async def test_until_idle_honours_a_stop_while_calls_hang() -> None:
    world = World()
    world.parser.gate = asyncio.Event()  # the provider hangs
    await world.post(1)
    task = world.start(until_idle=True)
    await world.settle(lambda: world.parser.in_flight == 1)
    await world.settle(rounds=100)  # nothing else to claim: the loop waits for the call
    world.engine.stop()  # SIGTERM
    await world.settle(rounds=50)
    assert not task.done()  # the calls in flight get the grace time
    await world.advance(30)
    await world.settle(task.done)
    assert world.message(1).status is MessageStatus.PENDING  # released, not held
    assert world.message(1).lease_owner is None


async def test_until_idle_waits_for_a_dead_workers_lease_then_parses(
    caplog: pytest.LogCaptureFixture,
) -> None:
    shared = Shared()
    dead = World(shared, owner="dead")
    await dead.post(1)
    await dead.post(2)
    held = await shared.messages.claim_next("dead", shared.clock.now(), timedelta(seconds=60))
    assert held is not None
    batch = World(shared, owner="batch")
    caplog.set_level(logging.INFO, logger="channel_parser")
    task = batch.start(until_idle=True)
    await batch.settle(lambda: batch.message(2).status is MessageStatus.DONE)
    await batch.advance(30)
    assert not task.done()  # message 1 is still held by the dead worker
    await batch.advance(31)  # its lease has run out
    await batch.settle(task.done)
    assert batch.message(1).status is MessageStatus.DONE
    assert "held by other workers" in caplog.text


async def test_until_idle_leaves_a_live_workers_messages_after_a_lease(
    caplog: pytest.LogCaptureFixture,
) -> None:
    shared = Shared()
    live = World(shared, owner="live")
    await live.post(1)
    held = await shared.messages.claim_next("live", shared.clock.now(), timedelta(seconds=60))
    assert held is not None
    batch = World(shared, owner="batch")
    task = batch.start(until_idle=True)
    for _ in range(5):  # the live worker renews its lease every 20 s
        await batch.advance(20)
        now = shared.clock.now()
        assert await shared.messages.renew_lease(held.key, "live", now + timedelta(seconds=60))
        if task.done():
            break
    await batch.settle(task.done)
    assert batch.message(1).status is MessageStatus.PROCESSING
    assert batch.message(1).lease_owner == "live"
    assert "leaving 1 message(s) to the workers holding them" in caplog.text


async def test_a_misconfiguration_is_probed_once_a_process_starts_with_other_settings() -> None:
    shared = Shared()
    first = World(shared, owner="first")
    first.parser.fail_when(lambda text: True, bad_key())
    first.start()
    for i in range(3):
        await first.post(i)
    await first.settle(lambda: shared.state.gate.state is GateState.MISCONFIGURED)
    await first.stop()
    assert shared.state.gate.closed_with == first.parser.settings_fingerprint

    # Restarted with the same (bad) settings: no call, the gate stays closed.
    same = World(shared, owner="same")
    same.parser.fail_when(lambda text: True, bad_key())
    same.start()
    await same.advance(600)
    assert same.parser.calls == []
    await same.stop()

    # Restarted after a person fixed the key: one probe, the gate opens, all is parsed.
    fixed = World(shared, owner="fixed")
    fixed.parser.settings_fingerprint = "fake-settings-2"
    fixed.start()
    await fixed.settle(
        lambda: all(m.status is MessageStatus.DONE for m in shared.messages.messages.values())
    )
    assert fixed.parser.calls[0].message_ref == "quota-probe"
    assert shared.state.gate.is_open
    assert len(shared.notifier.starting_with(RESTORED_HEAD)) == 1
    await fixed.stop()


async def test_a_misconfiguration_text_says_what_to_do() -> None:
    world = World()
    world.parser.script(bad_key())
    world.start()
    await world.post(1)
    await world.settle(lambda: bool(world.notifier.starting_with(MISCONFIGURED_HEAD)))
    text = world.notifier.starting_with(MISCONFIGURED_HEAD)[0]
    assert "исправьте LLM_API_KEY, LLM_MODEL или LLM_BASE_URL и перезапустите" in text
    assert "channel-parser resume" in text
    await world.stop()


async def test_a_second_exhaustion_after_the_balance_came_back_is_told_at_once() -> None:
    world = World()
    world.parser.script(quota_error())
    world.start()
    await world.post(1)
    await world.settle(lambda: not world.state.gate.is_open)
    await world.advance(300)  # the probe (no failure scripted) succeeds: resumed
    await world.settle(lambda: world.state.gate.is_open)
    assert len(world.notifier.starting_with(RESTORED_HEAD)) == 1
    world.parser.script(quota_error())
    await world.post(2)
    await world.settle(lambda: not world.state.gate.is_open)
    await world.settle(lambda: len(world.notifier.starting_with(QUOTA_HEAD)) == 2)
    await world.stop()


async def test_a_parser_that_raises_teaches_the_limiter_nothing() -> None:
    """A bug that fails each call at once is not a fast success: the shared limit must not
    grow on it (every permit busy with failing calls looks like full use)."""
    world = World(limit=ConcurrencyLimit(limit=2, max_limit=32))
    for _ in range(1000):
        world.parser.script(ValueError("a bug in output checking"))
    world.start()
    for i in range(300):
        await world.post(i)
    for _ in range(25):  # each post once (its retry is due at 30 s)
        await world.advance(1)
    assert len(world.parser.calls) == 300  # the permits were busy, each call failing
    assert world.limiter.limit.permits == 2
    await world.stop()
    assert world.shared.state.learned is None or world.shared.state.learned.limit == 2
