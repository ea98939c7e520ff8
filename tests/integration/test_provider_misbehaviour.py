"""Every way the provider misbehaves, end to end: the container's running engine, the real
openai SDK over HTTP and the Z.AI simulator, on SQLite. Each fault ends in the status,
admin notification and metric README's "How LLM failures are handled" promises, and the
engine goes on to parse a normal post."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest

from channel_parser.application.ports.storage import NewPost
from channel_parser.bootstrap.container import Container
from channel_parser.domain.failures import FailureKind
from channel_parser.domain.message import IncomingMessage, MessageKey
from channel_parser.domain.status import MessageStatus
from channel_parser.simulator.server import ZaiSimulator
from tests.fakes.notify import RecordingNotifier
from tests.integration.engine_support import notified, service, settings_for, simulator

CHANNEL = -1002222222222
NORMAL = "Обычный пост: в субботу в парке пройдёт ярмарка. #новости"
QUOTA = "🚨 Исчерпан лимит LLM API!"
RESTORED = "✅ Лимит LLM API восстановлен!"
LIMITED = "⚠️ Превышен лимит concurrency LLM API!"
MISCONFIGURED = "⛔ Ошибка настройки LLM API!"
T, X, C, R, M, Q = (
    FailureKind.TRANSIENT,
    FailureKind.REJECTED,
    FailureKind.CONCURRENCY_LIMITED,
    FailureKind.RATE_LIMITED,
    FailureKind.MISCONFIGURED,
    FailureKind.QUOTA_EXHAUSTED,
)
RETRY, ERROR, DONE = MessageStatus.RETRY, MessageStatus.ERROR, MessageStatus.DONE


@attrs.frozen
class Case:
    faults: tuple[str, ...]  # served to the bad post's calls, in order
    status: MessageStatus  # the bad post's status after the failure
    kind: FailureKind
    code: str
    notice: str | None  # the prefix of the one admin notification, or None for none


CASES: dict[str, Case] = {
    "hang past the timeout": Case(("hang",), RETRY, T, "timeout", None),
    "dropped connection": Case(("drop",), RETRY, T, "connection", None),
    "HTTP 500": Case(("500",), RETRY, T, "500", None),
    "HTTP 503": Case(("503",), RETRY, T, "503", None),
    "error inside a 200 (1305)": Case(("error_in_200",), RETRY, T, "1305", None),
    "1312 model overloaded": Case(("1312",), RETRY, T, "1312", None),
    "1302 concurrency": Case(("1302",), RETRY, C, "1302", LIMITED),
    "1303 frequency": Case(("1303",), RETRY, R, "1303", LIMITED),
    "prose twice": Case(("non_json", "non_json"), ERROR, X, "invalid_output", None),
    "schema broken twice": Case(("schema_break", "schema_break"), ERROR, X, "invalid_output", None),
    "content filter": Case(("sensitive",), ERROR, X, "content_filter", None),
    "1301 unsafe content": Case(("1301",), ERROR, X, "1301", None),
    "1261 prompt too long": Case(("1261",), ERROR, X, "1261", None),
    "1211 unknown model": Case(("1211",), ERROR, M, "1211", MISCONFIGURED),
    "1002 bad key": Case(("1002",), ERROR, M, "1002", MISCONFIGURED),
    "1113 no balance": Case(("1113",), ERROR, Q, "1113", QUOTA),
    # issue 12: bounded replies, whole-call deadlines, the provider's empty answer
    "no choices (no repair asked)": Case(("no_choices",), RETRY, T, "no_choices", None),
    "JSON 100 000 deep twice": Case(("deep", "deep"), ERROR, X, "invalid_output", None),
    "a 200 MB reply": Case(("huge",), ERROR, X, "reply_too_large", None),
    "a byte every 0.5 s": Case(("drip",), RETRY, T, "timeout", None),
}


def calls(c: Container, outcome: str, code: str) -> float:
    value = c.metrics().registry.get_sample_value(
        "channel_parser_llm_calls_total", {"outcome": outcome, "code": code}
    )
    return value or 0.0


async def wait_for(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@attrs.define
class Running:
    sim: ZaiSimulator
    c: Container
    notifier: RecordingNotifier
    worker: asyncio.Task[None]

    async def post(self, message_id: int, text: str) -> None:
        await (await self.c.ingest.async_())(NewPost(CHANNEL, message_id, text))

    async def message(self, message_id: int) -> IncomingMessage:
        found = await (await self.c.messages.async_()).get(MessageKey(CHANNEL, message_id))
        assert found is not None
        return found

    async def settled(self, message_id: int, *statuses: MessageStatus) -> IncomingMessage:
        async def reached() -> bool:
            return (await self.message(message_id)).status in statuses

        await wait_for(reached, f"message {message_id} to reach {statuses}")
        return await self.message(message_id)


@asynccontextmanager
async def running(tmp_path: Path, **overrides: Any) -> AsyncIterator[Running]:
    """A running engine with short timeouts; stopped (and checked alive) at the end."""
    values: dict[str, Any] = {
        "llm_timeout": 1.0,
        "quota_probe_seconds": 0.3,
        "poll_seconds": 0.1,
        "concurrency_start": 1,
    }
    values.update(overrides)
    notifier = RecordingNotifier()
    async with simulator(hang_seconds=30) as sim:
        settings = settings_for(sim.base_url, tmp_path / "store.sqlite3", **values)
        async with service(settings, notifier) as c:
            engine = await c.engine.async_()
            worker = asyncio.create_task(engine.run())
            try:
                yield Running(sim, c, notifier, worker)
                assert not worker.done(), "the engine stopped by itself"
            finally:
                engine.stop()
                await asyncio.wait_for(worker, 15)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_each_provider_failure_ends_as_promised_and_the_engine_goes_on(
    case: Case, tmp_path: Path
) -> None:
    async with running(tmp_path) as r:
        r.sim.script(*case.faults)
        await r.post(1, "Пост, на котором провайдер сбоит")
        first = await r.settled(1, case.status)
        assert first.last_error is not None
        assert (first.last_error.kind, first.last_error.code) == (case.kind, case.code)
        if case.status is RETRY:
            assert first.retry_count == 1 and first.retry_after is not None
        assert calls(r.c, str(case.kind), case.code) == 1
        if case.notice:  # delivered beside parsing, a moment after the message is saved
            await notified(r.notifier, case.notice)
        notices = [text for text in r.notifier.sent if not text.startswith(RESTORED)]
        assert [text.split("\n")[0] for text in notices] == ([case.notice] if case.notice else [])

        if case.kind is M:  # stops claiming until `resume`
            gate = await (await r.c.state.async_()).quota_gate()
            assert not gate.is_open
            await r.post(2, NORMAL)
            await asyncio.sleep(0.5)
            assert (await r.message(2)).status is MessageStatus.PENDING
            await (await r.c.resume.async_())()
        else:
            await r.post(2, NORMAL)
        normal = await r.settled(2, DONE)
        assert normal.result is not None and normal.result["summary"]
        assert calls(r.c, "success", "") >= 1
        if case.kind in (Q, M):  # the gate reopened: the stopped post is parsed too
            await r.settled(1, DONE)
        if case.kind is Q:
            await notified(r.notifier, RESTORED)
            assert len(r.notifier.starting_with(RESTORED)) == 1
            assert len(r.notifier.starting_with(QUOTA)) == 1


async def test_malformed_output_once_is_repaired_in_the_same_call(tmp_path: Path) -> None:
    async with running(tmp_path) as r:
        r.sim.script("non_json")
        await r.post(1, NORMAL)
        message = await r.settled(1, DONE)
        r.sim.script("schema_break")
        await r.post(2, NORMAL + " и ещё")
        second = await r.settled(2, DONE)
    assert message.retry_count == 0 and second.retry_count == 0
    assert calls(r.c, "success", "") == 2
    assert r.sim.stats().total_calls == 4  # each post: a bad answer, then the repaired one
    assert r.notifier.sent == []


async def test_a_5xx_burst_is_ridden_out_with_backoff(tmp_path: Path) -> None:
    burst = ("500", "503", "500", "drop", "503")
    async with running(
        tmp_path, backoff_base_seconds=0.05, backoff_cap_seconds=0.2, backoff_factor=2
    ) as r:
        r.sim.script(*burst)
        await r.post(1, NORMAL)
        message = await r.settled(1, DONE)
        await r.post(2, NORMAL + "!")
        await r.settled(2, DONE)
    assert message.result is not None
    assert calls(r.c, "transient", "500") == 2
    assert calls(r.c, "transient", "503") == 2
    assert calls(r.c, "transient", "connection") == 1
    assert calls(r.c, "success", "") == 2
    assert r.notifier.sent == []


async def test_a_bad_key_on_every_call_closes_the_gate_with_one_notification(
    tmp_path: Path,
) -> None:
    async with running(tmp_path, concurrency_start=4) as r:
        r.sim.trigger("ключ", "1002")
        for i in range(1, 6):
            await r.post(i, f"Пост {i}: ключ не подходит")
        state = await r.c.state.async_()

        async def gate_closed() -> bool:
            return not (await state.quota_gate()).is_open

        await wait_for(gate_closed, "the gate to close")
        await asyncio.sleep(0.5)  # time for the calls in flight to end and notify
        assert len(r.notifier.starting_with(MISCONFIGURED)) == 1
        assert len(r.notifier.sent) == 1
        r.sim.clear_faults()
        await (await r.c.resume.async_())()
        for i in range(1, 6):
            await r.settled(i, DONE)
    assert 1 <= calls(r.c, "misconfigured", "1002") <= 4  # only the calls already in flight
