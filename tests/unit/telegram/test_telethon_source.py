"""TelethonPostSource as the Container wires it, with the fake Telethon client, the
in-memory store and a FakeClock: hand-built Telethon messages, events and errors, no
network, no real sleep. The admins' notices are read from the outbox they go into."""

from __future__ import annotations

import asyncio
import inspect
import logging
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers
from telethon import errors, events, functions, types

from channel_parser.adapters.telegram.channel_watch import HINT_ID, HINT_INVITE_EXPIRED, HINT_JOIN
from channel_parser.adapters.telegram.client import make_client
from channel_parser.adapters.telegram.telethon_source import TelethonPostSource
from channel_parser.application.errors import StorageUnavailable
from channel_parser.application.ports.storage import ChannelMode, NewPost
from channel_parser.bootstrap.container import Container
from channel_parser.bootstrap.settings import Settings
from channel_parser.bootstrap.storage import Stores
from channel_parser.domain.message import MessageKey
from tests.fakes.clock import FakeClock
from tests.fakes.llm import FakeParser
from tests.fakes.metrics import RecordingMetrics
from tests.fakes.notify import RecordingNotifier
from tests.fakes.outbox import InMemoryOutbox
from tests.fakes.storage import (
    InMemoryChannelRegistry,
    InMemoryMessageRepository,
    InMemoryParseCache,
    InMemoryServiceState,
)
from tests.unit.telegram.fake_telethon import (
    BARE,
    MARKED,
    NOT_MEMBER,
    T0,
    FakeClient,
    channel,
    post,
)

OTHER_BARE = 2223334445
OTHER = -1002223334445


class World:
    """One listening process: the real Container, its gateways faked."""

    def __init__(
        self,
        refs: list[str] | None = None,
        client: FakeClient | None = None,
        shared: World | None = None,
        **settings: Any,
    ) -> None:
        self.client = client or FakeClient()
        self.parser = FakeParser()
        if client is None:
            self.client.entities["@jobs"] = channel()
        if shared is None:
            self.repo = InMemoryMessageRepository()
            self.registry = InMemoryChannelRegistry()
            self.outbox = InMemoryOutbox()
            self.state = InMemoryServiceState()
            self.clock = FakeClock(T0)
        else:
            self.repo, self.registry = shared.repo, shared.registry
            self.outbox, self.state, self.clock = shared.outbox, shared.state, shared.clock
        values: dict[str, Any] = {
            "telegram_channels": refs if refs is not None else ["@jobs"],
            "backfill_seconds": 300.0,
            "telegram_poll_seconds": 60.0,
            "backfill_initial_posts": 0,
        }
        values.update(settings)
        container = Container(settings=Settings.model_construct(**values))
        stores = Stores(
            self.repo,
            InMemoryParseCache(),
            self.registry,
            self.state,
            "memory",
            outbox=self.outbox,
        )
        for name, value in {
            "stores": stores,
            "clock": self.clock,
            "telegram_client": self.client,
            "notifier": RecordingNotifier(),
            "metrics": RecordingMetrics(),
            "owner": "listener-1",
            "parser": self.parser,
        }.items():
            getattr(container, name).override(providers.Object(value))
        self.container = container
        self.woken = container.wakeup()
        self.source: TelethonPostSource = container.post_source()

    def text(self, message_id: int, channel_id: int = MARKED) -> str | None:
        found = self.repo.messages.get(MessageKey(channel_id, message_id))
        return None if found is None else found.text

    def stored(self, channel_id: int = MARKED) -> list[int]:
        return sorted(k.message_id for k in self.repo.messages if k.channel_id == channel_id)

    def notices(self) -> list[str]:
        """The admins' notifications, in the order they went into the outbox."""
        return [e.payload["text"] for _, e in sorted(self.outbox.entries.items())]

    async def info(self, channel_id: int = MARKED) -> Any:
        return await self.registry.channel(channel_id)


async def settle(rounds: int = 50) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


# -- live posts -------------------------------------------------------------------------


async def test_new_post_is_stored_under_the_marked_channel_id() -> None:
    world = World()
    await world.source.start()
    await world.client.emit(events.NewMessage.Event(post(42, "Ищем Python-разработчика")))
    stored = world.repo.messages[MessageKey(MARKED, 42)]
    assert stored.text == "Ищем Python-разработчика"
    assert stored.posted_at == post(42).date
    assert world.woken.is_set()
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
    link = types.MessageEntityTextUrl(offset=0, length=1, url="https://x.example")
    await world.client.emit(events.NewMessage.Event(post(46, "\u200b", entities=[link])))
    assert world.repo.messages == {}  # a link around nothing is no post either
    assert world.source.stats.without_text == 3


async def test_posts_of_other_chats_are_ignored() -> None:
    world = World()
    await world.source.start()
    await world.client.emit(events.NewMessage.Event(post(1, "hello", bare=555)))
    assert world.repo.messages == {}


async def test_a_hidden_link_keeps_its_url_in_the_stored_text() -> None:
    """Issue 17: "Apply here" -> https://... was stored as "Apply here", the URL gone."""
    world = World()
    await world.source.start()
    text = "Python dev wanted 🚀 Apply here. Ask @hr_anna or Anna"
    entities = [
        types.MessageEntityBold(offset=0, length=10),
        types.MessageEntityTextUrl(offset=21, length=10, url="https://jobs.example/apply/7"),
        types.MessageEntityMention(offset=37, length=8),
        types.MessageEntityMentionName(offset=49, length=4, user_id=4242),
    ]
    await world.client.emit(events.NewMessage.Event(post(46, text, entities=entities)))
    rendered = (
        "Python dev wanted 🚀 [Apply here](https://jobs.example/apply/7). "
        "Ask @hr_anna or [Anna](tg://user?id=4242)"
    )
    assert world.text(46) == rendered
    engine = await world.container.engine.async_()  # and the LLM is given the same text
    await asyncio.wait_for(engine.run(until_idle=True), 5)
    assert world.parser.texts() == [rendered]


async def test_an_album_with_several_captions_is_one_post_live_and_in_backfill() -> None:
    world = World()
    await world.repo.add(NewPost(MARKED, 1, "seed"), T0)
    photo = types.MessageMediaPhoto(photo=types.PhotoEmpty(id=1))
    album = [
        post(10, "", media=photo, grouped_id=77),
        post(11, "Первое фото", media=photo, grouped_id=77),
        post(12, "Второе фото", media=photo, grouped_id=77),
    ]
    await world.source.start()
    for item in album:  # Telethon raises NewMessage for each item, and one Album event
        await world.client.emit(events.NewMessage.Event(item))
    assert world.stored() == [1]
    await world.client.emit(events.Album.Event(album))
    assert world.stored() == [1, 11]
    assert world.text(11) == "Первое фото\n\nВторое фото"
    # The same album read from the cursor is the same post (nothing new, nothing more).
    world.client.history[BARE] = album
    await world.source.refresh()
    assert world.stored() == [1, 11]
    assert world.source.stats.delivered == {"stored": 1, "unchanged": 1}


async def test_an_edited_caption_of_an_album_rebuilds_the_albums_post() -> None:
    world = World()
    await world.repo.add(NewPost(MARKED, 1, "seed"), T0)
    album = [post(10, "one", grouped_id=5), post(11, "two", grouped_id=5), post(12, "x")]
    world.client.history[BARE] = album
    await world.source.start()
    assert world.text(10) == "one\n\ntwo" and world.text(12) == "x"
    edited = post(11, "two, edited", grouped_id=5)
    world.client.history[BARE] = [album[0], edited, album[2]]
    await world.client.emit(events.MessageEdited.Event(edited))
    assert world.text(10) == "one\n\ntwo, edited"


# -- reading from the cursor ------------------------------------------------------------


async def test_a_new_channel_gets_its_latest_posts_then_reads_on() -> None:
    """Issue 13: a channel with no stored posts was never backfilled at all."""
    world = World(backfill_initial_posts=100)
    world.client.history[BARE] = [post(i, f"post {i}") for i in range(1, 151)]
    await world.source.start()
    assert world.stored() == list(range(51, 151))  # the latest 100, not the whole history
    assert (await world.info()).read_up_to == 150
    world.client.history[BARE].append(post(151, "next"))
    await world.source.refresh()
    assert world.stored()[-1] == 151


async def test_no_initial_history_still_reads_what_comes_next() -> None:
    world = World(backfill_initial_posts=0)
    world.client.history[BARE] = [post(1, "old"), post(2, "old too")]
    await world.source.start()
    assert world.stored() == []
    assert (await world.info()).read_up_to == 2
    world.client.history[BARE].append(post(3, "new"))
    await world.source.refresh()
    assert world.stored() == [3]


async def test_the_default_is_a_hundred_posts_of_history() -> None:
    assert Settings.model_fields["backfill_initial_posts"].default == 100


async def test_backfill_on_start_from_the_highest_stored_id() -> None:
    world = World()
    await world.repo.add(NewPost(MARKED, 10, "old"), T0)
    world.client.history[BARE] = [post(i, f"post {i}") for i in range(8, 15)]
    await world.source.start()
    assert world.client.iter_calls == [{"id": BARE, "min_id": 10, "reverse": True, "limit": None}]
    assert world.stored() == [10, 11, 12, 13, 14]
    assert world.text(10) == "old"  # untouched
    assert world.source.stats.backfilled == 4


async def test_media_only_posts_are_not_fetched_again_on_every_read() -> None:
    """The read cursor passes posts without text: the next read starts after them."""
    world = World()
    await world.repo.add(NewPost(MARKED, 1, "seed"), T0)
    photo = types.MessageMediaPhoto(photo=types.PhotoEmpty(id=1))
    world.client.history[BARE] = [
        post(2, "text"),
        post(3, "", media=photo),
        post(4, "", media=photo),
    ]
    await world.source.start()
    await world.source.refresh()
    assert [c["min_id"] for c in world.client.iter_calls] == [1, 4]
    assert world.source.stats.without_text == 2
    restarted = World(client=world.client, shared=world)  # the cursor is kept in the store
    await restarted.source.start()
    assert world.client.iter_calls[-1]["min_id"] == 4


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
    info = await world.info()
    assert (info.mode, info.read_up_to, info.last_read_at) == (
        ChannelMode.LIVE,
        11,
        world.clock.now(),
    )
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert world.client.handlers == []  # stopped: handlers removed


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
    assert world.stored() == [10, 11, 12, 13, 14, 15]
    assert world.notices() == []  # 45 s is routine: nobody is told


async def test_a_live_post_the_store_refused_is_read_again_from_the_cursor() -> None:
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
    assert world.text(7) == "lost?"


async def test_a_read_the_store_interrupts_goes_on_from_where_it_stopped() -> None:
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
    await world.source.refresh()  # the store fails again during this read
    down["on"] = False
    await world.source.refresh()
    assert world.client.iter_calls[-1]["min_id"] == 1  # still from before post 7
    assert world.text(7) == "lost?"
    assert world.text(9) == "next"


# -- channels the account has not joined -----------------------------------------------


async def test_a_public_channel_the_account_has_not_joined_is_polled() -> None:
    """Issue 13: 5 posts in history, the account not a member, `stored: 0` forever."""
    world = World(backfill_initial_posts=100)
    world.client.entities["@jobs"] = channel(left=True)
    world.client.history[BARE] = [post(i, f"post {i}") for i in range(1, 6)]
    task = asyncio.create_task(world.source.run())
    await world.clock.advance(0)
    assert world.stored() == [1, 2, 3, 4, 5]
    info = await world.info()
    assert (info.mode, info.available, info.read_up_to) == (ChannelMode.POLLING, True, 5)
    world.client.history[BARE].append(post(6, "no update comes for this one"))
    await world.clock.advance(60)  # TELEGRAM_POLL_SECONDS, not the 300 s backfill
    assert world.text(6) == "no update comes for this one"
    assert world.client.requests == []  # not joined: joining is off by default
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_with_joining_on_the_channel_is_joined_and_read_live() -> None:
    world = World(telegram_join_channels=True)
    world.client.entities["@jobs"] = channel(left=True)
    await world.source.start()
    assert [type(r) for r in world.client.requests] == [functions.channels.JoinChannelRequest]
    assert (await world.info()).mode is ChannelMode.LIVE


async def test_a_polled_channel_joined_by_hand_becomes_live() -> None:
    world = World()
    world.client.entities["@jobs"] = channel(left=True)
    await world.source.start()
    assert (await world.info()).mode is ChannelMode.POLLING
    world.client.channels[BARE] = channel()  # the operator joined it meanwhile
    await world.clock.advance(300)
    await world.source.refresh()
    assert (await world.info()).mode is ChannelMode.LIVE


# -- flood waits ------------------------------------------------------------------------


async def test_a_long_flood_wait_on_one_channel_leaves_the_others_live() -> None:
    """Issue 13: a 20 000 s FloodWait on one username left every later channel unresolved
    and their live posts dropped."""
    world = World(["@flooded", "@jobs"])
    resolve = functions.contacts.ResolveUsernameRequest("flooded")
    world.client.lookup_errors = [errors.FloodWaitError(request=resolve, capture=20000)]
    world.client.entities["@flooded"] = channel(OTHER_BARE, "Flooded", username="flooded")
    await world.repo.add(NewPost(MARKED, 1, "seed"), T0)
    task = asyncio.create_task(world.source.run())
    await world.clock.advance(0)
    assert world.source.channel_ids == {MARKED}
    await world.client.emit(events.NewMessage.Event(post(2, "live while the other waits")))
    assert world.text(2) == "live while the other waits"
    world.client.history[BARE] = [post(3, "read on its own timer")]
    await world.clock.advance(300)
    assert world.text(3) == "read on its own timer"
    [notice] = world.notices()  # told once, about the one channel
    assert notice.startswith("⏳ Telegram просит подождать!")
    assert "@flooded" in notice and "20000 секунд" in notice and "ResolveUsername" in notice
    world.client.history[OTHER_BARE] = [post(1, "after the wait", bare=OTHER_BARE)]
    await world.clock.advance(20000 - 300)
    assert world.source.channel_ids == {MARKED, OTHER}
    assert world.stored(OTHER) == [] and (await world.info(OTHER)).read_up_to == 1
    assert world.source.stats.flood_waits == 1
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_username_is_resolved_once_across_reads_and_restarts() -> None:
    world = World()
    await world.source.start()
    await world.clock.advance(3600)
    await world.source.refresh()
    restarted = World(client=world.client, shared=world)  # the session file keeps it
    await restarted.source.start()
    assert world.client.network_lookups == ["@jobs"]


# -- identifiers ------------------------------------------------------------------------


async def test_a_marked_id_on_a_fresh_session_is_learned_from_the_dialogs() -> None:
    """Issue 13: get_entity(-100…) failed with "Could not find the input entity" and the
    admins were told to check a membership the account had."""
    world = World(["-1001234567890"])
    world.client.entities.clear()
    world.client.dialogs = [channel()]
    world.client.history[BARE] = [post(1, "first")]
    await world.repo.add(NewPost(MARKED, 0, "seed"), T0)
    await world.source.start()
    assert world.client.dialog_loads == 1
    assert world.source.channel_ids == {MARKED}
    assert world.text(1) == "first"
    assert world.notices() == []


async def test_a_marked_id_the_account_does_not_have_says_so() -> None:
    world = World(["-1001234567890"])
    await world.source.start()
    [info] = await world.registry.channels()
    assert (info.channel_id, info.available) == (MARKED, False)
    assert info.reason == "the account has no dialog with this channel id"
    [notice] = world.notices()
    assert notice.startswith("⚠️ Канал недоступен!") and HINT_ID in notice
    await world.source.refresh()  # the dialogs are not loaded again at once
    assert world.client.dialog_loads == 1


async def test_an_expired_invite_is_unavailable_with_a_reason_and_no_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = World(["https://t.me/+AbCdEf123"])
    world.client.lookup_errors = [errors.InviteHashExpiredError(request=None)]
    await world.source.start()
    [notice] = world.notices()
    assert "❓ Причина: the invite link has expired" in notice
    assert HINT_INVITE_EXPIRED in notice
    assert not any(r.exc_info for r in caplog.records)
    assert world.source.channel_ids == frozenset()


async def test_an_invite_of_a_channel_not_joined_is_joined_only_when_allowed() -> None:
    link = "https://t.me/+abcdef123"
    refused = World([link])
    refused.client.entities[link] = NOT_MEMBER
    await refused.source.start()
    assert HINT_JOIN in refused.notices()[0]
    joining = World([link], telegram_join_channels=True)
    joining.client.entities[link] = NOT_MEMBER
    joining.client.entities[f"{link}#joined"] = channel(username="")
    joining.client.history[BARE] = [post(1, "private post")]
    await joining.source.start()
    assert [type(r) for r in joining.client.requests] == [
        functions.messages.ImportChatInviteRequest
    ]
    assert joining.source.channel_ids == {MARKED}


# -- availability ---------------------------------------------------------------------


async def test_private_channel_marked_unavailable_admins_told_once_then_back() -> None:
    world = World(["@jobs"])
    world.client.entities["@jobs"] = channel()
    world.client.channels[BARE] = errors.ChannelPrivateError(request=None)
    await world.source.start()
    [info] = await world.registry.channels()
    assert (info.channel_id, info.available) == (MARKED, False)
    assert info.reason is not None and info.reason.startswith("ChannelPrivateError")
    [notice] = world.notices()
    assert notice.startswith("⚠️ Канал недоступен")
    assert "-1001234567890" in notice
    assert "⏰ Время: 2026-01-25 12:00:00 UTC" in notice

    await world.source.refresh()  # checked again, still private: nobody is told twice
    assert len(world.notices()) == 1

    world.client.channels[BARE] = channel()
    world.client.history[BARE] = [post(5, "back")]
    await world.repo.add(NewPost(MARKED, 4, "stored while away"), T0)
    await world.source.refresh()
    assert await world.registry.unavailable() == frozenset()
    assert (await world.registry.channels())[0].title == "Jobs (test)"
    assert world.notices()[1].startswith("✅ Канал снова доступен")
    assert world.text(5) == "back"
    assert world.client.network_lookups == ["@jobs"]  # looked at again by id, not by name


async def test_unavailable_state_survives_a_restart_without_a_second_notice() -> None:
    world = World(["@jobs"])
    world.client.channels[BARE] = errors.ChannelInvalidError(request=None)
    world.client.entities["@jobs"] = channel()
    await world.source.start()
    restarted = World(["@jobs"], client=world.client, shared=world)
    await restarted.source.start()
    assert len(world.notices()) == 1


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
    assert len(world.notices()) == 1


async def test_unknown_username_told_once_and_looked_up_again() -> None:
    world = World(["@vanished"])
    await world.source.start()
    await world.source.refresh()
    assert world.client.network_lookups == ["@vanished", "@vanished"]
    [notice] = world.notices()
    assert "@vanished" in notice and "ValueError" in notice
    assert await world.registry.channels() == []  # no id known to record


async def test_a_user_is_not_a_channel() -> None:
    world = World(["@someone"])
    world.client.entities["@someone"] = types.User(id=5, first_name="A", access_hash=1)
    await world.source.start()
    assert "not a channel" in world.notices()[0]


async def test_a_channel_gone_while_fetching_its_latest_posts_is_unavailable() -> None:
    world = World(backfill_initial_posts=2)
    world.client.history[BARE] = [post(1, "x")]
    world.client.history_errors = [(0, errors.ChannelPrivateError(request=None))]
    await world.source.start()
    assert await world.registry.unavailable() == frozenset({MARKED})


async def test_one_channels_failure_does_not_stop_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)
    world = World(["@broken", "@jobs"], backfill_initial_posts=100)
    world.client.entities["@broken"] = channel(OTHER_BARE, username="broken")
    world.client.history[OTHER_BARE] = [post(1, "x", bare=OTHER_BARE)]
    world.client.history_errors = [(0, RuntimeError("a bug"))]
    world.client.history[BARE] = [post(1, "fine")]
    await world.source.start()
    assert world.text(1) == "fine"
    assert "reading @broken failed" in caplog.text


async def test_the_real_client_has_what_the_source_calls(tmp_path: Path) -> None:
    client = make_client(tmp_path / "acct.session", 12345, "0123456789abcdef")
    try:
        assert {"min_id", "max_id", "reverse", "limit"} <= set(
            inspect.signature(client.iter_messages).parameters
        )
        for name in ("get_input_entity", "get_entity", "get_dialogs", "add_event_handler"):
            assert callable(getattr(client, name))
        assert callable(client)  # client(request)
        world = World()
        source = TelethonPostSource(
            client,
            ["@jobs"],
            world.source._ingest,
            world.repo,
            world.registry,
            world.source._watch._report,
            world.source._tell_flood,
            world.clock,
        )
        source._register()
        assert len(client.list_event_handlers()) == 3
        source.stop()
        assert client.list_event_handlers() == []
    finally:
        client.session.close()
