"""The engine and a store that goes away in the middle of a message's life."""

from __future__ import annotations

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
