"""SPEC.md's behaviour, scenario by scenario, with a fake clock."""

from __future__ import annotations

from datetime import timedelta

from channel_parser.application import notifications
from channel_parser.domain.message import IncomingMessage
from channel_parser.domain.status import MessageStatus
from tests.fakes.clock import EPOCH
from tests.fakes.llm import concurrency_error, quota_error
from tests.unit.engine.world import CHANNEL, Shared, World, fast_config

QUOTA_HEAD = "🚨 Исчерпан лимит LLM API!"
RATE_HEAD = "⚠️ Превышен лимит concurrency LLM API!"


async def test_a_new_post_is_parsed_at_once_without_time_passing() -> None:
    world = World()
    world.start()
    await world.post(1, "Вакансия: Python-разработчик")
    await world.settle(lambda: world.message(1).status is MessageStatus.DONE)
    assert world.message(1).result == {"summary": "Вакансия: Python-разработчик", "length": 28}
    assert world.clock.now() == EPOCH
    await world.stop()


async def test_spec_own_test_a_due_retry_is_processed_after_a_restart() -> None:
    """SPEC.md: create a message in RETRY with retry_after in the past, restart, check."""
    shared = Shared()
    shared.messages.messages[IncomingMessage(CHANNEL, 7, "old", EPOCH).key] = IncomingMessage(
        CHANNEL,
        7,
        "old",
        received_at=EPOCH - timedelta(hours=1),
        status=MessageStatus.RETRY,
        retry_count=2,
        retry_after=EPOCH - timedelta(minutes=1),
    )
    world = World(shared)  # the restarted service
    world.start()
    await world.settle(lambda: world.message(7).status is MessageStatus.DONE)
    assert world.parser.texts() == ["old"]
    await world.stop()


async def test_a_retry_not_yet_due_waits_for_its_time_then_runs_on_a_timer() -> None:
    world = World()
    world.parser.script(concurrency_error())
    world.start()
    await world.post(1)
    await world.settle(lambda: world.message(1).status is MessageStatus.RETRY)
    message = world.message(1)
    assert message.retry_count == 1
    assert message.retry_after == EPOCH + timedelta(seconds=30)
    await world.advance(29)
    assert world.message(1).status is MessageStatus.RETRY
    assert len(world.parser.calls) == 1
    await world.advance(1)
    await world.settle(lambda: world.message(1).status is MessageStatus.DONE)
    assert len(world.parser.calls) == 2
    await world.stop()


async def test_a_storm_of_1302_gives_the_spec_delays_and_one_notice_per_5_minutes() -> None:
    world = World()
    world.parser.fail_when(lambda text: True, concurrency_error())
    world.start()
    await world.post(1)
    delays = []
    for _ in range(7):
        await world.settle(lambda: world.message(1).status is MessageStatus.RETRY)
        message = world.message(1)
        delays.append((message.retry_after - world.clock.now()).total_seconds())
        await world.advance(delays[-1])
    assert delays == [30, 60, 120, 240, 480, 480, 480]
    notices = world.notifier.starting_with(RATE_HEAD)
    # Attempts at t = 0, 30, 90, 210, 450, 930, 1410, 1890 s; sent at 0, 450, 930,
    # 1410 and 1890 (each at least 5 minutes after the last one sent).
    assert len(world.parser.calls) == 8
    assert len(notices) == 5
    assert notices[0] == notifications.rate_limited(EPOCH, 1, timedelta(seconds=30))
    assert "🔄 Повторная попытка: 5" in notices[1]
    assert notices[1].endswith("подавлено с прошлого раза: 3")  # t = 30, 90, 210
    await world.stop()


async def test_rate_limit_and_concurrency_errors_both_retry_with_backoff() -> None:
    from channel_parser.domain.failures import FailureKind, LLMFailure

    world = World()
    world.parser.script(LLMFailure(FailureKind.RATE_LIMITED, "1303", "rpm"))
    world.start()
    await world.post(1)
    await world.settle(lambda: world.message(1).status is MessageStatus.RETRY)
    message = world.message(1)
    assert (message.retry_count, message.last_error.code) == (1, "1303")
    await world.stop()


async def test_quota_exhausted_errors_the_message_stops_parsing_and_keeps_storing() -> None:
    world = World()
    world.parser.script(quota_error())
    world.start()
    await world.post(1)
    await world.settle(lambda: world.message(1).status is MessageStatus.ERROR)
    await world.settle(lambda: bool(world.notifier.sent))  # delivered beside parsing
    assert world.notifier.sent == [notifications.quota_exhausted(EPOCH)]
    gate = await world.state.quota_gate()
    assert not gate.is_open
    for i in range(2, 30):
        await world.post(i)
    await world.advance(60)
    assert len(world.parser.calls) == 1  # nothing parsed while the balance is empty
    assert all(world.message(i).status is MessageStatus.PENDING for i in range(2, 30))
    await world.stop()


async def test_an_empty_balance_notifies_once_per_15_minutes_then_resumes_by_itself() -> None:
    # Every post here is local (it wakes the worker); no need to poll for other processes'.
    world = World(config=fast_config(poll_interval=timedelta(minutes=10)))
    world.parser.fail_when(lambda text: True, quota_error())
    world.start()
    for i in range(1, 6):
        await world.post(i)
    await world.settle(lambda: not world.state.gate.is_open)
    for minute in range(60):  # an hour passes; posts keep arriving
        await world.post(100 + minute)
        await world.advance(60)
    quota_notices = world.notifier.starting_with(QUOTA_HEAD)
    assert len(quota_notices) == 5  # t = 0, 15, 30, 45 and 60 min
    probes = [c for c in world.parser.calls if c.message_ref == "quota-probe"]
    assert len(probes) == 12  # every 5 minutes
    # The balance is topped up: the next probe succeeds.
    world.parser.rules.clear()
    await world.advance(5 * 60)
    await world.settle(lambda: world.state.gate.is_open)
    await world.settle(
        lambda: all(m.status is MessageStatus.DONE for m in world.messages.messages.values())
    )
    restored = world.notifier.starting_with("✅ Лимит LLM API восстановлен!")
    assert len(restored) == 1
    assert "📥 Ожидают обработки: 65" in restored[0]
    await world.stop()


async def test_messages_of_an_unavailable_channel_wait() -> None:
    world = World()
    await world.shared.channels.set_availability(CHANNEL, False, EPOCH, "private")
    world.start()
    await world.post(1)
    await world.post(2, channel=-1009)
    await world.settle(lambda: world.message(2, channel=-1009).status is MessageStatus.DONE)
    assert world.message(1).status is MessageStatus.PENDING
    await world.shared.channels.set_availability(CHANNEL, True, EPOCH)
    await world.advance(2)  # the poll interval
    await world.settle(lambda: world.message(1).status is MessageStatus.DONE)
    await world.stop()


async def test_the_throttle_holds_across_worker_processes() -> None:
    shared = Shared()
    first, second = World(shared, owner="a"), World(shared, owner="b")
    first.parser.fail_when(lambda t: True, concurrency_error())
    second.parser.fail_when(lambda t: True, concurrency_error())
    first.start()
    second.start()
    for i in range(10):
        await first.post(i)
        await second.post(100 + i)
    # Every call is refused, so the one limit they share drops to one call: a worker
    # waits for the other to give its permit back (half a second idle).
    for _ in range(40):
        if all(m.status is MessageStatus.RETRY for m in shared.messages.messages.values()):
            break
        await first.advance(0.25)
    assert all(m.status is MessageStatus.RETRY for m in shared.messages.messages.values())
    assert len(shared.notifier.starting_with(RATE_HEAD)) == 1
    await first.stop()
    await second.stop()
