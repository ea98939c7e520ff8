"""TelethonPostSource with hand-built Telethon messages, events and errors, a fake client,
the in-memory store and a FakeClock (no network, no real sleep)."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

import pytest
from telethon import errors, events, types

from channel_parser.adapters.telegram.channels import parse_channel_ref
from channel_parser.adapters.telegram.client import make_client
from channel_parser.adapters.telegram.telethon_source import TelethonPostSource
from channel_parser.application.errors import ConfigurationError, StorageUnavailable
from channel_parser.application.ports.storage import NewPost
from channel_parser.application.use_cases.ingest import IngestPost
from channel_parser.domain.message import MessageKey
from tests.fakes.clock import FakeClock
from tests.fakes.storage import InMemoryChannelRegistry, InMemoryMessageRepository
from tests.unit.telegram.fake_telethon import BARE, MARKED, T0, FakeClient, channel, post


class RecordingNotifier:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, text: str) -> bool:
        self.sent.append(text)
        return True


class World:
    def __init__(self, refs: list[str] | None = None, **kwargs: object) -> None:
        self.client = FakeClient()
        self.client.entities["@jobs"] = channel()
        self.client.entities[MARKED] = channel()
        self.repo = InMemoryMessageRepository()
        self.registry = InMemoryChannelRegistry()
        self.notifier = RecordingNotifier()
        self.clock = FakeClock(T0)
        self.woken = 0
        self.source = TelethonPostSource(
            self.client,
            refs if refs is not None else ["@jobs"],
            IngestPost(self.repo, self.clock, on_stored=self._wake),
            self.repo,
            self.registry,
            self.notifier,
            self.clock,
            backfill_seconds=300,
            **kwargs,  # type: ignore[arg-type]
        )

    def _wake(self) -> None:
        self.woken += 1

    def text(self, message_id: int, channel_id: int = MARKED) -> str | None:
        found = self.repo.messages.get(MessageKey(channel_id, message_id))
        return None if found is None else found.text


async def test_new_post_is_stored_under_the_marked_channel_id() -> None:
    world = World()
    await world.source.start()
    await world.client.emit(events.NewMessage.Event(post(42, "Ищем Python-разработчика")))
    stored = world.repo.messages[MessageKey(MARKED, 42)]
    assert stored.text == "Ищем Python-разработчика"
    assert stored.posted_at == post(42).date
    assert world.woken == 1
    assert world.source.stats.delivered == {"stored": 1}


async def test_edited_post_replaces_the_text_of_an_unparsed_post() -> None:
    world = World()
    await world.source.start()
    await world.client.emit(events.NewMessage.Event(post(42, "draft")))
    await world.client.emit(events.MessageEdited.Event(post(42, "final text")))
    assert world.text(42) == "final text"
    assert world.source.stats.delivered == {"stored": 1, "updated": 1}


async def test_a_public_channels_username_is_recorded_for_links() -> None:
    world = World()
    world.client.entities["@jobs"] = channel(username="jobs")
    await world.source.start()
    [info] = await world.registry.channels()
    assert (info.channel_id, info.title, info.username) == (MARKED, "Jobs (test)", "jobs")


async def test_caption_of_a_media_post_is_its_text() -> None:
    world = World()
    await world.source.start()
    photo = types.MessageMediaPhoto(photo=types.PhotoEmpty(id=1))
    await world.client.emit(events.NewMessage.Event(post(43, "Фото с митапа", media=photo)))
    assert world.text(43) == "Фото с митапа"


async def test_posts_without_text_are_ignored_and_counted() -> None:
    world = World()
    await world.source.start()
    photo = types.MessageMediaPhoto(photo=types.PhotoEmpty(id=1))
    await world.client.emit(events.NewMessage.Event(post(44, "", media=photo)))
    await world.client.emit(events.NewMessage.Event(post(45, "   \n")))
    assert world.repo.messages == {}
    assert world.source.stats.without_text == 2


async def test_posts_of_other_chats_are_ignored() -> None:
    world = World()
    await world.source.start()
    await world.client.emit(events.NewMessage.Event(post(1, "hello", bare=555)))
    assert world.repo.messages == {}


async def test_backfill_on_start_from_the_highest_stored_id() -> None:
    world = World()
    await world.repo.add(NewPost(MARKED, 10, "old"), T0)
    world.client.history[BARE] = [post(i, f"post {i}") for i in range(8, 15)]
    await world.source.start()
    assert world.client.iter_calls == [{"id": BARE, "min_id": 10, "reverse": True, "limit": None}]
    assert sorted(k.message_id for k in world.repo.messages) == [10, 11, 12, 13, 14]
    assert world.text(10) == "old"  # untouched
    assert world.source.stats.backfilled == 4


async def test_backfill_runs_again_on_the_timer() -> None:
    world = World()
    await world.repo.add(NewPost(MARKED, 10, "old"), T0)
    task = asyncio.create_task(world.source.run())
    await world.clock.advance(0)
    world.client.history[BARE] = [post(11, "posted while the listener missed it")]
    await world.clock.advance(299)
    assert world.text(11) is None
    await world.clock.advance(1)
    assert world.text(11) == "posted while the listener missed it"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert world.client.handlers == []  # stopped: handlers removed


async def test_flood_wait_on_lookup_is_slept_through_on_the_clock() -> None:
    world = World()
    world.client.lookup_errors = [errors.FloodWaitError(request=None, capture=30)]
    world.client.history[BARE] = [post(1, "first")]
    await world.repo.add(NewPost(MARKED, 0, "seed"), T0)
    task = asyncio.create_task(world.source.start())
    await world.clock.advance(29)
    assert not task.done()
    assert world.text(1) is None
    await world.clock.advance(1)
    await task
    assert world.text(1) == "first"
    assert world.source.stats.flood_waits == 1
    assert world.notifier.sent == []


async def test_flood_wait_during_backfill_resumes_after_the_last_delivered_post() -> None:
    world = World()
    await world.repo.add(NewPost(MARKED, 10, "old"), T0)
    world.client.history[BARE] = [post(i, f"post {i}") for i in range(11, 16)]
    world.client.history_errors = [(2, errors.FloodWaitError(request=None, capture=45))]
    task = asyncio.create_task(world.source.start())
    await world.clock.advance(0)
    assert [c["min_id"] for c in world.client.iter_calls] == [10]
    await world.clock.advance(45)
    await task
    assert [c["min_id"] for c in world.client.iter_calls] == [10, 12]
    assert sorted(k.message_id for k in world.repo.messages) == [10, 11, 12, 13, 14, 15]


async def test_private_channel_marked_unavailable_admins_told_once_then_back() -> None:
    world = World(["-1001234567890"])
    world.client.entities[MARKED] = errors.ChannelPrivateError(request=None)
    await world.source.start()
    [info] = await world.registry.channels()
    assert (info.channel_id, info.available) == (MARKED, False)
    assert info.reason is not None and info.reason.startswith("ChannelPrivateError")
    assert len(world.notifier.sent) == 1
    assert world.notifier.sent[0].startswith("⚠️ Канал недоступен")
    assert "-1001234567890" in world.notifier.sent[0]
    assert "⏰ Время: 2026-01-25 12:00:00 UTC" in world.notifier.sent[0]

    await world.source.refresh()  # checked again, still private: nobody is told twice
    assert len(world.client.lookups) == 2
    assert len(world.notifier.sent) == 1

    world.client.entities[MARKED] = channel()
    world.client.history[BARE] = [post(5, "back")]
    await world.repo.add(NewPost(MARKED, 4, "stored while away"), T0)
    await world.source.refresh()
    assert await world.registry.unavailable() == frozenset()
    assert (await world.registry.channels())[0].title == "Jobs (test)"
    assert world.notifier.sent[1].startswith("✅ Канал снова доступен")
    assert world.text(5) == "back"


async def test_unavailable_state_survives_a_restart_without_a_second_notice() -> None:
    world = World(["-1001234567890"])
    world.client.entities[MARKED] = errors.ChannelInvalidError(request=None)
    await world.source.start()
    restarted = TelethonPostSource(
        world.client,
        ["-1001234567890"],
        IngestPost(world.repo, world.clock),
        world.repo,
        world.registry,
        world.notifier,
        world.clock,
    )
    await restarted.start()
    assert len(world.notifier.sent) == 1


async def test_channel_lost_during_backfill_is_marked_unavailable() -> None:
    world = World()
    await world.repo.add(NewPost(MARKED, 1, "seed"), T0)
    world.client.history[BARE] = [post(2, "a"), post(3, "b")]
    world.client.history_errors = [(1, errors.ChannelPrivateError(request=None))]
    await world.source.start()
    assert await world.registry.unavailable() == frozenset({MARKED})
    assert world.source.channel_ids == frozenset()
    await world.client.emit(events.NewMessage.Event(post(9, "not read while unavailable")))
    assert world.text(9) is None
    assert len(world.notifier.sent) == 1


async def test_unknown_username_told_once_and_looked_up_again() -> None:
    world = World(["@vanished"])
    await world.source.start()
    await world.source.refresh()
    assert world.client.lookups == ["@vanished", "@vanished"]
    assert len(world.notifier.sent) == 1
    assert "@vanished" in world.notifier.sent[0]
    assert "ValueError" in world.notifier.sent[0]
    assert await world.registry.channels() == []  # no id known to record


async def test_a_user_is_not_a_channel() -> None:
    world = World(["@someone"])
    world.client.entities["@someone"] = types.User(id=5, first_name="A")
    await world.source.start()
    assert "not a channel" in world.notifier.sent[0]


async def test_a_channel_with_nothing_stored_takes_only_its_latest_posts() -> None:
    world = World(initial_posts=2)
    world.client.history[BARE] = [post(i, f"post {i}") for i in range(1, 6)]
    await world.source.start()
    assert sorted(k.message_id for k in world.repo.messages) == [4, 5]
    none_stored = World()
    none_stored.client.history[BARE] = [post(1, "x")]
    await none_stored.source.start()
    assert none_stored.repo.messages == {}  # default: no history, only what comes next


async def test_a_channel_gone_while_fetching_its_latest_posts_is_unavailable() -> None:
    world = World(initial_posts=2)
    world.client.history[BARE] = [post(1, "x")]
    world.client.history_errors = [(0, errors.ChannelPrivateError(request=None))]
    await world.source.start()
    assert await world.registry.unavailable() == frozenset({MARKED})


async def test_a_live_post_the_store_refused_is_fetched_by_the_next_backfill() -> None:
    world = World()
    await world.repo.add(NewPost(MARKED, 1, "seed"), T0)
    await world.source.start()
    add = world.repo.add

    async def failing_add(p: NewPost, now: object, *rule: object) -> object:
        raise StorageUnavailable("down")

    world.repo.add = failing_add  # type: ignore[method-assign,assignment]
    await world.client.emit(events.NewMessage.Event(post(7, "lost?")))
    world.repo.add = add  # type: ignore[method-assign]
    await world.client.emit(events.NewMessage.Event(post(8, "later")))
    world.client.history[BARE] = [post(7, "lost?"), post(8, "later")]
    await world.source.refresh()
    assert world.client.iter_calls[-1]["min_id"] == 6
    assert world.text(7) == "lost?"


async def test_a_backfill_the_store_interrupts_keeps_the_resume_point() -> None:
    world = World()
    await world.repo.add(NewPost(MARKED, 1, "seed"), T0)
    await world.source.start()
    add = world.repo.add
    down = {"on": True}

    async def flaky_add(p: NewPost, now: object, *rule: object) -> object:
        if down["on"] and p.message_id in (7, 9):
            raise StorageUnavailable("down")
        return await add(p, now, *rule)  # type: ignore[arg-type]

    world.repo.add = flaky_add  # type: ignore[method-assign,assignment]
    await world.client.emit(events.NewMessage.Event(post(7, "lost?")))  # refused live
    await world.client.emit(events.NewMessage.Event(post(8, "later")))  # stored
    world.client.history[BARE] = [post(7, "lost?"), post(8, "later"), post(9, "next")]
    await world.source.refresh()  # the store fails again during this backfill
    down["on"] = False
    await world.source.refresh()
    assert world.client.iter_calls[-1]["min_id"] == 6  # still from before post 7
    assert world.text(7) == "lost?"
    assert world.text(9) == "next"


@pytest.mark.parametrize(
    ("text", "lookup", "known"),
    [
        ("@Jobs_Channel", "@jobs_channel", None),
        ("jobs_channel", "@jobs_channel", None),
        ("https://t.me/jobs_channel", "@jobs_channel", None),
        ("t.me/jobs_channel/", "@jobs_channel", None),
        ("https://t.me/+AbCdEf123", "https://t.me/+AbCdEf123", None),
        ("-1001234567890", MARKED, MARKED),
        ("1234567890", MARKED, MARKED),
    ],
)
def test_channel_references(text: str, lookup: object, known: int | None) -> None:
    ref = parse_channel_ref(text)
    assert (ref.lookup, ref.known_id) == (lookup, known)


def test_a_bad_channel_reference_names_the_setting() -> None:
    with pytest.raises(ConfigurationError, match="TELEGRAM_CHANNELS"):
        parse_channel_ref("not a channel!")


async def test_the_real_client_has_what_the_source_calls(tmp_path: Path) -> None:
    client = make_client(tmp_path / "acct.session", 12345, "0123456789abcdef")
    try:
        assert {"min_id", "reverse", "limit"} <= set(
            inspect.signature(client.iter_messages).parameters
        )
        for name in ("get_entity", "add_event_handler", "remove_event_handler"):
            assert callable(getattr(client, name))
        source = TelethonPostSource(
            client,
            ["@jobs"],
            IngestPost(InMemoryMessageRepository(), FakeClock()),
            InMemoryMessageRepository(),
            InMemoryChannelRegistry(),
            RecordingNotifier(),
            FakeClock(),
        )
        for callback, event in source._handlers:
            client.add_event_handler(callback, event)
        assert len(client.list_event_handlers()) == 2
        source.stop()
        assert client.list_event_handlers() == []
    finally:
        client.session.close()
