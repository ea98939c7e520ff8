"""What parsing cost (per post, in the ledger, in the metrics), edits parsed again, and
the results streamed out (export, follow, show), on the production graph with fakes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from channel_parser.application.errors import StorageUnavailable
from channel_parser.application.ports.storage import IngestOutcome, MessageFilter, NewPost
from channel_parser.application.use_cases.export_results import ExportedPost, ExportResults
from channel_parser.application.use_cases.get_status import GetStatus
from channel_parser.application.use_cases.ingest import IngestPost
from channel_parser.bootstrap.container import edit_rule, token_prices
from channel_parser.bootstrap.settings import Settings
from channel_parser.domain.failures import LLMFailure
from channel_parser.domain.message import MessageKey
from channel_parser.domain.message_rules import EDITS_IN_PLACE, EDITS_REPARSED
from channel_parser.domain.status import MessageStatus
from channel_parser.domain.usage import NO_USAGE, LLMUsage, TokenPrices
from tests.fakes.llm import concurrency_error, default_usage
from tests.unit.engine.world import CHANNEL, World

DONE = MessageStatus.DONE
OPEN = "Вакансия: Python-разработчик, удалённо. Откликайтесь!"
CLOSED = "Вакансия закрыта. Спасибо всем!"


def done(world: World, *ids: int) -> bool:
    return all(world.message(i).status is DONE for i in ids)


def done_in(world: World, channel: int, message_id: int) -> bool:
    return world.message(message_id, channel).status is DONE


async def test_a_parse_records_its_usage_model_and_fingerprint() -> None:
    world = World()
    world.start()
    await world.post(1, OPEN)
    await world.settle(lambda: done(world, 1))
    message = world.message(1)
    assert message.usage == default_usage(OPEN)  # the fake clock did not move: 0 s
    assert (message.model, message.parser_fingerprint) == ("fake-model", "fake-v1")
    assert world.state.usage[next(iter(world.state.usage))] == default_usage(OPEN)
    assert world.metrics.usage == default_usage(OPEN)
    await world.stop()


async def test_usage_adds_up_over_refused_calls_and_retries() -> None:
    world = World()
    refused = concurrency_error()
    world.parser.script(
        LLMFailure(refused.kind, refused.code, refused.message, usage=LLMUsage(calls=1))
    )
    world.start()
    await world.post(1, OPEN)
    await world.settle(lambda: world.message(1).status is MessageStatus.RETRY)
    assert world.message(1).usage == LLMUsage(calls=1)
    await world.advance(30)
    await world.settle(lambda: done(world, 1))
    expected = default_usage(OPEN) + LLMUsage(calls=1)
    assert world.message(1).usage == expected
    assert await world.state.usage_since() == expected
    await world.stop()


async def test_a_cache_hit_costs_nothing_and_says_what_made_it() -> None:
    world = World()
    world.start()
    await world.post(1, OPEN)
    await world.settle(lambda: done(world, 1))
    await world.post(2, OPEN)
    await world.settle(lambda: done(world, 2))
    repost = world.message(2)
    assert repost.from_cache and repost.usage == NO_USAGE
    assert (repost.model, repost.parser_fingerprint) == ("fake-model", "fake-v1")
    assert await world.state.usage_since() == default_usage(OPEN)  # one call in all
    await world.stop()


async def test_an_edit_of_a_parsed_post_is_parsed_again() -> None:
    world = World()
    world.start()
    await world.post(1, OPEN)
    await world.settle(lambda: done(world, 1))
    first = world.message(1).result
    await world.advance(120)
    outcome = await world.ingest(NewPost(CHANNEL, 1, CLOSED))
    assert outcome is IngestOutcome.REQUEUED
    await world.settle(lambda: done(world, 1) and world.message(1).text == CLOSED)
    edited = world.message(1)
    assert world.parser.texts() == [OPEN, CLOSED]
    assert edited.result != first and edited.result is not None
    assert edited.result["summary"] == CLOSED[:60]
    assert edited.edited_at == world.clock.now() and edited.done_at == world.clock.now()
    assert edited.usage == default_usage(CLOSED)  # what the current result cost
    assert await world.state.usage_since() == default_usage(OPEN) + default_usage(CLOSED)
    await world.stop()


async def test_reparse_edits_off_keeps_the_first_result() -> None:
    world = World()
    world.start()
    await world.post(1, OPEN)
    await world.settle(lambda: done(world, 1))
    keep = IngestPost(world.messages, world.clock, edits=EDITS_IN_PLACE)
    assert await keep(NewPost(CHANNEL, 1, CLOSED)) is IngestOutcome.UNCHANGED
    assert world.message(1).text == OPEN and world.parser.texts() == [OPEN]
    await world.stop()


def test_the_settings_choose_the_edit_rule_and_the_prices() -> None:
    assert edit_rule(Settings.model_construct()) is EDITS_REPARSED  # the default: on
    assert edit_rule(Settings.model_construct(reparse_edits=False)) is EDITS_IN_PLACE
    assert token_prices(Settings.model_construct()) is None
    priced = Settings.model_construct(llm_price_input_per_mtok=0.6, llm_price_output_per_mtok=2.2)
    assert token_prices(priced) == TokenPrices(0.6, 2.2)


async def test_status_shows_tokens_spent_in_all_and_in_the_last_day() -> None:
    world = World()
    earlier, lately = LLMUsage(5000, 700, 9, 12.0), LLMUsage(300, 40, 2, 1.5)
    await world.state.add_usage(world.clock.now(), earlier)
    await world.clock.advance(25 * 3600)
    await world.state.add_usage(world.clock.now(), lately)
    status = GetStatus(
        world.messages,
        world.shared.channels,
        world.state,
        world.clock,
        world.shared.outbox,
        prices=TokenPrices(1, 2),
    )
    report = await status()
    assert report.usage_total == earlier + lately
    assert report.usage_last_day == lately
    assert report.prices == TokenPrices(1, 2)


# -- export and follow -------------------------------------------------------------


async def collect(stream: object, into: list[ExportedPost]) -> None:
    async for post in stream:  # type: ignore[attr-defined]
        into.append(post)


async def test_export_streams_the_selected_posts_with_their_channel() -> None:
    world = World()
    await world.shared.channels.set_availability(CHANNEL, True, world.clock.now(), title="Jobs")
    world.start()
    for i in range(1, 6):
        await world.post(i)
    await world.post(9, channel=-1009)
    await world.settle(
        lambda: done(world, 1, 2, 3, 4, 5) and world.message(9, -1009).status is DONE
    )
    export: ExportResults = world.container.export()
    got: list[ExportedPost] = []
    await collect(export(MessageFilter(DONE)), got)
    assert [p.message.key for p in got] == [  # key order: -1001234567890 < -1009
        *(MessageKey(CHANNEL, i) for i in range(1, 6)),
        MessageKey(-1009, 9),
    ]
    assert got[0].channel is not None and got[0].channel.title == "Jobs"
    assert got[-1].channel is None
    only = []
    await collect(export(MessageFilter(DONE, channels={-1009})), only)
    assert [p.message.key for p in only] == [MessageKey(-1009, 9)]
    await world.stop()


async def test_follow_prints_what_is_parsed_afterwards_once_until_stopped() -> None:
    world = World()
    world.start()
    await world.post(1, OPEN)
    await world.settle(lambda: done(world, 1))
    export = ExportResults(world.messages, world.shared.channels, world.clock)
    stop = asyncio.Event()
    got: list[ExportedPost] = []
    following = asyncio.create_task(
        collect(export(MessageFilter(DONE), follow=True, stop=stop), got)
    )
    await world.settle(lambda: len(got) == 1)
    await world.post(2, "a new post")
    await world.settle(lambda: done(world, 2))
    await world.advance(1)  # one poll interval
    await world.settle(lambda: len(got) == 2)
    await world.advance(5)  # polled again and again: nothing twice
    await world.ingest(NewPost(CHANNEL, 1, CLOSED))  # edited: parsed again, comes again
    await world.settle(lambda: done(world, 1) and world.message(1).text == CLOSED)
    await world.advance(1)
    await world.settle(lambda: len(got) == 3)
    assert [(p.message.message_id, p.message.text) for p in got] == [
        (1, OPEN),
        (2, "a new post"),
        (1, CLOSED),
    ]
    stop.set()
    await asyncio.wait_for(following, timeout=5)
    await world.stop()


async def test_follow_needs_done_posts() -> None:
    world = World()
    export = ExportResults(world.messages, world.shared.channels, world.clock)
    try:
        await collect(export(MessageFilter(MessageStatus.ERROR), follow=True), [])
    except ValueError as exc:
        assert "done" in str(exc)
    else:
        raise AssertionError("following error posts was accepted")


async def test_show_finds_one_post_and_find_channel_its_username() -> None:
    world = World()
    await world.shared.channels.set_availability(
        CHANNEL, True, world.clock.now(), title="Jobs", username="PyJobs"
    )
    world.start()
    await world.post(7, OPEN)
    await world.settle(lambda: done(world, 7))
    assert await world.container.find_channel()("@pyjobs") == CHANNEL
    assert await world.container.find_channel()("nobody") is None
    shown = await world.container.show()(MessageKey(CHANNEL, 7))
    assert shown is not None and shown.message.result is not None
    assert shown.channel is not None and shown.channel.username == "PyJobs"
    assert await world.container.show()(MessageKey(CHANNEL, 8)) is None
    await world.stop()


class FlakyParsedSince:
    """The in-memory store whose follower query fails while ``down`` is set."""

    def __init__(self, world: World) -> None:
        self.inner = world.messages
        self.down = False

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    async def iter_parsed_since(self, *args: object, **kwargs: object) -> AsyncIterator[object]:
        if self.down:
            raise StorageUnavailable("the store went away")
        async for message in self.inner.iter_parsed_since(*args, **kwargs):  # type: ignore[arg-type]
            yield message


async def test_a_follower_rides_out_a_storage_outage_and_misses_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = World()
    world.start()
    store = FlakyParsedSince(world)
    export = ExportResults(store, world.shared.channels, world.clock)  # type: ignore[arg-type]
    stop = asyncio.Event()
    got: list[ExportedPost] = []
    following = asyncio.create_task(
        collect(export(MessageFilter(DONE), follow=True, stop=stop), got)
    )
    await world.settle()
    store.down = True
    await world.post(1, OPEN)  # parsed during the outage
    await world.settle(lambda: done(world, 1))
    await world.advance(3)  # three polls fail
    assert got == []
    store.down = False
    await world.advance(1)
    await world.settle(lambda: len(got) == 1)
    assert got[0].message.text == OPEN
    messages = [r.getMessage() for r in caplog.records if "following" in r.getMessage()]
    assert len(messages) == 2  # one line when it failed, one when it answered again
    stop.set()
    await asyncio.wait_for(following, timeout=5)
    await world.stop()
