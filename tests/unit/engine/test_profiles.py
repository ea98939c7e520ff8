"""Posts are parsed with their time and channel, under their channel's profile, and the
profile is recorded with the result; stale results are found again (issue 17, items 1-2)."""

from __future__ import annotations

from datetime import UTC, datetime

from channel_parser.application.ports.llm import ParserProfile, PostContext
from channel_parser.application.ports.storage import ChannelInfo, MessageFilter, NewPost
from channel_parser.application.profiles import ProfileTable
from channel_parser.application.use_cases.requeue import RequeueMessages
from channel_parser.domain.message import MessageKey
from channel_parser.domain.status import MessageStatus
from tests.unit.engine.world import CHANNEL, World

JOBS_CHANNEL = -1009999999999
POSTED = datetime(2026, 1, 23, 9, 30, tzinfo=UTC)
JOBS = ParserProfile("jobs", "jobs-v1", "jobshash0001")
DEFAULT = ParserProfile("default", "fake-v1", "fake-v1")
TEXT = "Python developer wanted until Friday. [Apply here](https://jobs.example/7)"


def done(world: World, message_id: int, channel: int = CHANNEL) -> bool:
    return world.message(message_id, channel).status is MessageStatus.DONE


async def test_the_parser_gets_the_posts_time_and_channel_as_context() -> None:
    world = World()
    await world.shared.channels.set_availability(
        CHANNEL, True, POSTED, title="Python Jobs", username="py_jobs"
    )
    world.start()
    await world.ingest(NewPost(CHANNEL, 1, TEXT, posted_at=POSTED))
    await world.settle(lambda: done(world, 1))
    (request,) = world.parser.calls
    assert request.text == TEXT and request.channel_id == CHANNEL
    assert request.context == PostContext(POSTED, "Python Jobs", "py_jobs")
    message = world.message(1)
    assert (message.profile, message.spec_hash) == ("default", "fake-v1")
    await world.stop()


async def test_a_post_of_an_unknown_channel_is_parsed_with_its_time_only() -> None:
    world = World()
    world.start()
    await world.ingest(NewPost(CHANNEL, 1, TEXT, posted_at=POSTED))
    await world.settle(lambda: done(world, 1))
    assert world.parser.calls[0].context == PostContext(POSTED, None, None)
    await world.stop()


async def test_each_channel_is_parsed_under_its_profile_and_cached_apart() -> None:
    world = World()
    world.parser.channel_profiles[JOBS_CHANNEL] = JOBS
    world.start()
    await world.post(1, TEXT)
    await world.settle(lambda: done(world, 1))
    await world.post(2, TEXT, channel=JOBS_CHANNEL)  # the same text under another profile
    await world.settle(lambda: done(world, 2, JOBS_CHANNEL))
    await world.post(3, TEXT, channel=JOBS_CHANNEL)  # a repost under the same profile
    await world.settle(lambda: done(world, 3, JOBS_CHANNEL))
    assert len(world.parser.calls) == 2  # the third came from the cache
    jobs = world.message(2, JOBS_CHANNEL)
    assert (jobs.profile, jobs.parser_fingerprint, jobs.spec_hash) == (
        "jobs",
        "jobs-v1",
        "jobshash0001",
    )
    assert world.message(3, JOBS_CHANNEL).from_cache
    assert world.message(1).profile == "default"
    await world.stop()


def test_the_profile_of_a_channel_by_id_then_username() -> None:
    table = ProfileTable(DEFAULT, {"jobs": JOBS}, {JOBS_CHANNEL: "jobs"}, {"@Remote_Jobs": "jobs"})
    assert table.for_channel(JOBS_CHANNEL) is JOBS
    assert table.for_channel(-1001, "remote_jobs") is JOBS  # any case, without the @
    assert table.for_channel(-1001, "news") is DEFAULT
    assert table.for_channel(None) is DEFAULT
    assert table.named("default") is DEFAULT and table.named("nope") is None
    known = [ChannelInfo(-1001, True, username="REMOTE_jobs"), ChannelInfo(-1002, True)]
    stale = table.stale(known)
    assert stale.fingerprint == "fake-v1"
    assert dict(stale.by_channel) == {JOBS_CHANNEL: "jobs-v1", -1001: "jobs-v1"}


async def test_requeue_schema_changed_parses_again_what_another_profile_made() -> None:
    world = World()
    world.start()
    for i in (1, 2):
        await world.post(i, f"post {i}", channel=JOBS_CHANNEL)
    await world.post(3, "post 3")
    await world.settle(lambda: done(world, 1, JOBS_CHANNEL) and done(world, 3))
    await world.settle(lambda: done(world, 2, JOBS_CHANNEL))
    await world.stop()
    # The operator gives JOBS_CHANNEL a profile of its own: its two results are stale.
    table = ProfileTable(DEFAULT, {"jobs": JOBS}, {JOBS_CHANNEL: "jobs"})
    requeue = RequeueMessages(world.messages, world.clock, world.shared.channels, table)
    assert await requeue(schema_changed=True, where=MessageFilter(channels={CHANNEL})) == 0
    assert await requeue(schema_changed=True) == 2
    assert world.messages.messages[MessageKey(JOBS_CHANNEL, 1)].status is MessageStatus.PENDING
    assert world.message(3).status is MessageStatus.DONE
