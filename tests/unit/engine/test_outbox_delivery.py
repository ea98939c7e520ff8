"""The durable outbox: notifications kept until every admin has them, in order, beside
parsing (the production graph from the Container, fakes for the outside, a FakeClock)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from channel_parser.application.deliveries import ADMIN_TOPIC, DELIVERY_LEASE
from channel_parser.application.errors import StorageUnavailable
from channel_parser.application.ports.notify import RetryLater, Undeliverable
from channel_parser.domain.failures import NotificationKind
from channel_parser.domain.status import MessageStatus
from tests.fakes.llm import concurrency_error
from tests.fakes.notify import RecordingNotifier
from tests.unit.engine.world import Shared, World

KIND = NotificationKind.QUOTA_RESTORED  # not throttled: every call is a notification
RETRY_134 = RetryLater("Too Many Requests: retry after 134", timedelta(seconds=134))


async def notify(world: World, text: str, kind: NotificationKind = KIND) -> None:
    assert await world.notify(kind, lambda: text)


def statuses(shared: Shared) -> list[str]:
    return [str(e.status) for _, e in sorted(shared.outbox.entries.items())]


async def test_a_429_with_retry_after_134_is_delivered_134_seconds_later() -> None:
    """The real legacy sample "retry after 134" was dropped after one try; now it waits."""
    world = World()
    world.notifier.script(RETRY_134)
    world.start()
    await notify(world, "🚨 first")
    await world.settle(lambda: len(world.notifier.tries) == 1)
    assert world.notifier.sent == []
    [entry] = world.shared.outbox.entries.values()
    assert entry.next_attempt_at == world.clock.now() + timedelta(seconds=134)
    await world.advance(133)
    assert len(world.notifier.tries) == 1 and world.notifier.sent == []
    await world.advance(1)
    await world.settle(lambda: world.notifier.sent == ["🚨 first"])
    assert len(world.notifier.tries) == 2
    assert statuses(world.shared) == ["delivered"]
    assert world.metrics.deliveries == {(ADMIN_TOPIC, "retry"): 1, (ADMIN_TOPIC, "delivered"): 1}
    await world.stop()


async def test_one_destination_in_order_the_next_waits_for_the_first() -> None:
    world = World()
    world.notifier.script(RETRY_134)
    world.start()
    for text in ("one", "two", "three"):
        await notify(world, text)
    await world.settle(lambda: len(world.notifier.tries) == 1)
    await world.advance(100)
    assert [t for _, t in world.notifier.tries] == ["one"]  # "two" waits behind "one"
    await world.advance(34)
    await world.settle(lambda: len(world.notifier.sent) == 3)
    assert world.notifier.sent == ["one", "two", "three"]
    await world.stop()


async def test_a_refusing_admin_does_not_hold_up_another() -> None:
    shared = Shared(notifier=RecordingNotifier(["111", "222"]))
    world = World(shared)
    world.notifier.gate = None
    world.notifier.script(RETRY_134)  # the first try (to 111) is refused
    world.start()
    await notify(world, "hello")
    await world.settle(lambda: ("222", "hello") in world.notifier.delivered)
    assert ("111", "hello") not in world.notifier.delivered
    await world.advance(134)
    await world.settle(lambda: ("111", "hello") in world.notifier.delivered)
    await world.stop()


async def test_network_trouble_backs_off_and_delivers_when_it_is_over() -> None:
    world = World()
    down = RetryLater("ClientConnectorError: Cannot connect to host")
    world.notifier.script(down, down, down)
    world.start()
    await notify(world, "outage notice")
    for waited, tries in ((5, 2), (10, 3), (20, 4)):  # 5, 10, 20 s: the backoff doubles
        await world.settle(lambda t=tries - 1: len(world.notifier.tries) == t)
        await world.advance(waited - 0.5)
        assert len(world.notifier.tries) == tries - 1
        await world.advance(0.5)
    await world.settle(lambda: world.notifier.sent == ["outage notice"])
    await world.stop()


async def test_an_undeliverable_entry_is_given_up_counted_and_shown() -> None:
    world = World()
    world.notifier.script(Undeliverable("Bad Request: chat not found: start the bot first"))
    world.start()
    await notify(world, "lost cause")
    await notify(world, "next one")
    await world.settle(lambda: world.notifier.sent == ["next one"])
    assert statuses(world.shared) == ["failed", "delivered"]
    stats = await world.shared.outbox.stats()
    assert (stats.pending, stats.delivered, stats.failed) == (0, 1, 1)
    assert stats.last_failure == "admin: Bad Request: chat not found: start the bot first"
    assert world.metrics.deliveries[(ADMIN_TOPIC, "failed")] == 1
    await world.settle(lambda: world.metrics.outbox == (0, 1))  # the gauges after the round
    await world.stop()


async def test_an_entry_survives_a_restart() -> None:
    """A process stops with a notification undelivered; the next one delivers it."""
    shared = Shared()
    first = World(shared)
    shared.notifier.script(RETRY_134)
    first.start()
    await notify(first, "kept across a restart")
    await first.settle(lambda: len(shared.notifier.tries) == 1)
    await first.stop()  # gone, the entry still pending
    assert statuses(shared) == ["pending"]
    await shared.clock.advance(200)
    second = World(shared, owner="worker-2")  # a new process on the same store
    second.start()
    await second.settle(lambda: shared.notifier.sent == ["kept across a restart"])
    assert statuses(shared) == ["delivered"]
    await second.stop()


async def test_only_the_lease_holder_delivers() -> None:
    shared = Shared()
    one, two = World(shared, owner="one"), World(shared, owner="two")
    one.start()
    await one.settle(lambda: DELIVERY_LEASE in shared.state.leases)
    two.start()
    for i in range(5):
        await notify(two if i % 2 else one, f"n{i}")
    await one.settle(lambda: len(shared.notifier.sent) == 5)
    await one.advance(30)
    assert shared.notifier.sent == [f"n{i}" for i in range(5)]  # each once, in order
    assert shared.state.leases[DELIVERY_LEASE][0].startswith("one/")
    await one.stop()
    await shared.clock.advance(61)  # the holder is gone and its lease given back
    await notify(two, "after the holder left")
    await two.settle(lambda: shared.notifier.sent[-1:] == ["after the holder left"])
    await two.advance(60)
    await two.settle(lambda: shared.notifier.sent[-1:] == ["after the holder left"])
    await two.stop()


async def test_with_the_store_down_a_notification_is_sent_at_once() -> None:
    world = World()

    async def down(entries: object) -> None:
        raise StorageUnavailable("database unreachable")

    world.shared.outbox.put = down  # type: ignore[method-assign,assignment]
    assert await world.notify(NotificationKind.STORAGE_OUTAGE, lambda: "🗄️ База данных недоступна!")
    await world.settle(lambda: world.notifier.sent == ["🗄️ База данных недоступна!"])
    await world.deliveries.drain(timedelta(seconds=1))


async def test_a_hanging_sender_does_not_slow_parsing() -> None:
    """Issue 12 B.4: a Bot API that hangs held parsing for 70 s; now parsing goes on and
    the notification goes out once the Bot API answers."""
    world = World()
    world.notifier.gate = asyncio.Event()  # every try hangs until set
    world.parser.script(concurrency_error())  # the first post's 1302 makes a notification
    world.start()
    for i in range(1, 21):
        await world.post(i)
    await world.settle(lambda: len(world.notifier.tries) == 1)  # the notice hangs in the try
    await world.settle(
        lambda: sum(world.message(i).status is MessageStatus.DONE for i in range(2, 21)) == 19
    )
    await world.advance(30)  # the first post's retry
    await world.settle(lambda: world.message(1).status is MessageStatus.DONE)
    assert world.notifier.sent == []
    world.notifier.gate.set()
    await world.settle(lambda: len(world.notifier.sent) == 1)
    assert world.notifier.sent[0].startswith("⚠️ Превышен лимит concurrency LLM API!")
    await world.stop()


async def test_process_drains_what_is_due_and_leaves_the_rest() -> None:
    world = World()
    world.notifier.script(RETRY_134)
    await notify(world, "waits 134 s")
    await notify(world, "behind it")
    await world.deliveries.drain(timedelta(seconds=5))
    assert world.notifier.sent == [] and len(world.notifier.tries) == 1
    assert statuses(world.shared) == ["pending", "pending"]


async def test_drain_with_the_store_down_leaves_the_rest_for_later() -> None:
    world = World()

    async def down(limit: int = 100) -> list[object]:
        raise StorageUnavailable("database unreachable")

    world.shared.outbox.heads = down  # type: ignore[method-assign,assignment]
    await world.deliveries.drain(timedelta(seconds=5))  # no error: `process` exits cleanly
    assert world.notifier.tries == []
