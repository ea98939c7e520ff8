"""Parsed results delivered through the outbox to the routes whose condition they match
(issue 17, item 3), on the production graph with fakes."""

from __future__ import annotations

from typing import Any

import pytest

from channel_parser.adapters.deliver.routes import Route, compile_condition, compile_template
from channel_parser.application.ports.notify import RetryLater
from channel_parser.application.ports.storage import ChannelInfo, NewPost
from channel_parser.bootstrap.delivery import Routes
from channel_parser.domain.message_rules import EDITS_REPARSED
from channel_parser.domain.status import MessageStatus
from tests.fakes.notify import RecordingNotifier
from tests.unit.engine.world import CHANNEL, World

LONG = "A long post about a Python job, remote, apply by Friday"
SHORT = "Hi"


def routed(*routes: tuple[Route, RecordingNotifier]) -> Routes:
    return Routes([r for r, _ in routes], {r.topic: s for r, s in routes})


def records(sender: RecordingNotifier) -> list[dict[str, Any]]:
    return [p["record"] for p in sender.payloads]


async def test_every_result_goes_to_a_route_without_a_condition() -> None:
    sender = RecordingNotifier(["hook"])
    world = World(routes=routed((Route("hook", "webhook"), sender)))
    world.start()
    for i in range(1, 6):
        await world.post(i, f"post {i}")
    await world.settle(lambda: len(sender.payloads) == 5)
    got = sorted((r["channel_id"], r["message_id"]) for r in records(sender))
    assert got == [(CHANNEL, i) for i in range(1, 6)]
    assert all(r["status"] == "done" and r["result"]["summary"] for r in records(sender))

    def counted() -> int:
        topics = getattr(world.metrics, "outbox_topics", {})
        return topics["result:hook"].delivered if "result:hook" in topics else 0

    await world.settle(lambda: counted() == 5)
    await world.stop()


async def test_a_route_takes_only_the_results_its_condition_matches() -> None:
    sender = RecordingNotifier(["long"])
    route = Route("long", "webhook", compile_condition("result.length > `20`"))
    world = World(routes=routed((route, sender)))
    world.start()
    await world.post(1, LONG)
    await world.post(2, SHORT)
    await world.settle(lambda: world.message(2).status is MessageStatus.DONE)
    await world.settle(lambda: len(sender.payloads) == 1)
    await world.settle(rounds=200)
    assert [r["message_id"] for r in records(sender)] == [1]
    await world.stop()


async def test_a_telegram_route_gets_the_rendered_template() -> None:
    sender = RecordingNotifier(["@digest"])
    template = compile_template("📌 ${result.summary}\n${channel_title}: $link\n$$5 ${no.such}")
    world = World(routes=routed((Route("digest", "telegram", None, template), sender)))
    await world.shared.channels.set_availability(
        CHANNEL, True, world.clock.now(), title="Jobs", username="py_jobs"
    )
    world.start()
    await world.post(7, LONG)
    await world.settle(lambda: len(sender.sent) == 1)
    assert sender.sent == [f"📌 {LONG}\nJobs: https://t.me/py_jobs/7\n$5 —"]
    await world.stop()


async def test_a_failing_target_is_retried_and_never_holds_up_parsing() -> None:
    sender = RecordingNotifier(["hook"])
    sender.script(RetryLater("HTTP 503"), RetryLater("HTTP 503"))
    world = World(routes=routed((Route("hook", "webhook"), sender)))
    world.start()
    for i in range(1, 4):
        await world.post(i, f"post {i}")
    await world.settle(
        lambda: all(world.message(i).status is MessageStatus.DONE for i in (1, 2, 3))
    )
    assert sender.payloads == []  # parsed while the target refused
    await world.advance(5)
    await world.advance(10)
    await world.settle(lambda: len(sender.payloads) == 3)
    assert [r["message_id"] for r in records(sender)] == [1, 2, 3]  # in order
    await world.stop()


async def test_an_edit_parsed_again_is_delivered_again() -> None:
    sender = RecordingNotifier(["hook"])
    world = World(routes=routed((Route("hook", "webhook"), sender)))
    world.ingest._edits = EDITS_REPARSED  # type: ignore[attr-defined]  # (the default rule)
    world.start()
    await world.ingest(NewPost(CHANNEL, 1, "vacancy open"))
    await world.settle(lambda: len(sender.payloads) == 1)
    await world.advance(60)
    await world.ingest(NewPost(CHANNEL, 1, "vacancy closed"))
    await world.settle(lambda: len(sender.payloads) == 2)
    first, second = records(sender)
    assert (first["message_id"], second["message_id"]) == (1, 1)
    assert second["text"] == "vacancy closed" and second["parsed_at"] > first["parsed_at"]
    await world.stop()


def test_conditions_and_templates_are_checked_when_read() -> None:
    with pytest.raises(ValueError, match="not a JMESPath expression"):
        compile_condition("result.salary >")
    with pytest.raises(ValueError, match=r"\$\$ for \$"):
        compile_template("costs $5")
    route = Route("r", "webhook", compile_condition("contains(result.summary, `5`)"))
    assert route.payload({"result": {"summary": "x"}}) is None  # a type error: no match
    info = ChannelInfo(CHANNEL, True)
    assert info.username is None
