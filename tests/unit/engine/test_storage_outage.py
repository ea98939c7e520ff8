"""The engine and a store that goes away in the middle of a message's life."""

from __future__ import annotations

import asyncio

from channel_parser.application.errors import StorageUnavailable
from channel_parser.domain.status import MessageStatus
from tests.unit.engine.world import World


async def test_a_cache_read_failing_in_an_outage_does_not_strand_the_claimed_message() -> None:
    """Found by tests/integration/test_database_outage: the store went away between the
    claim and the parse-cache read; the message stayed `processing` under this live
    worker's lease until the lease expired. The cache is an optimisation: a failed read
    is a miss, and the outcome's save rides out the outage."""
    world = World()
    original = world.shared.cache.get
    failures = {"left": 1}

    async def failing_get(*args, **kwargs):  # type: ignore[no-untyped-def]
        if failures["left"]:
            failures["left"] -= 1
            raise StorageUnavailable("connection refused")
        return await original(*args, **kwargs)

    world.shared.cache.get = failing_get  # type: ignore[method-assign]
    world.start()
    await world.post(1)
    await world.settle(lambda: world.message(1).status is MessageStatus.DONE)
    assert failures["left"] == 0
    assert len(world.parser.calls) == 1
    await world.stop()


async def test_a_message_counts_as_finished_when_saved_not_after_the_cache_write() -> None:
    """Found by tests/integration/test_database_outage (CI, once): the outcome was saved
    just before the store went away, the cache write after it waited out the outage, and
    the `finished` counter rose during the outage, as if a post had finished without the
    store. It is counted when the outcome is saved."""
    world = World()
    release = asyncio.Event()
    original = world.shared.cache.put

    async def slow_put(*args, **kwargs):  # type: ignore[no-untyped-def]
        await release.wait()
        return await original(*args, **kwargs)

    world.shared.cache.put = slow_put  # type: ignore[method-assign]
    world.start()
    await world.post(1)
    await world.settle(lambda: world.message(1).status is MessageStatus.DONE)
    assert world.metrics.finished["done"] == 1  # the cache write is still waiting
    release.set()
    await world.stop()
    assert world.metrics.finished["done"] == 1


async def test_an_outcome_refused_for_a_lost_lease_is_not_counted_as_finished() -> None:
    """The holder now finishes the message and counts it; counting it here too would
    count one post twice."""
    world = World()
    refused: list[int] = []

    async def lost_lease(message, owner):  # type: ignore[no-untyped-def]
        refused.append(message.key.message_id)
        return False

    world.shared.messages.save = lost_lease  # type: ignore[method-assign]
    world.start()
    await world.post(1)
    await world.settle(lambda: refused == [1])
    await world.stop()
    assert len(world.parser.calls) == 1
    assert world.metrics.finished == {}
