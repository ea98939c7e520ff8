"""The real openai SDK over real HTTP on 127.0.0.1 against the Z.AI simulator."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from datetime import UTC, datetime

import aiohttp
import pytest

from channel_parser.adapters.llm.prompting import check_output, load_prompt_spec
from channel_parser.application.ports.llm import ParseRequest, ParseSuccess
from channel_parser.domain.failures import FailureKind, LLMFailure
from channel_parser.simulator.config import LimitSchedule
from channel_parser.simulator.server import ZaiSimulator
from tests.integration.llm_support import KEY, simulated

Q, C, R = FailureKind.QUOTA_EXHAUSTED, FailureKind.CONCURRENCY_LIMITED, FailureKind.RATE_LIMITED
T, X, M = FailureKind.TRANSIENT, FailureKind.REJECTED, FailureKind.MISCONFIGURED
SCHEMA = load_prompt_spec(None, None).schema


def req(text: str = "Hello from the channel. #news", ref: str = "1001/7") -> ParseRequest:
    return ParseRequest(text, ref)


async def test_a_good_reply_fits_the_default_schema_and_is_counted() -> None:
    text = "Запуск ракеты SpaceX перенесён. https://example.org #космос"
    async with simulated() as (sim, parser):
        outcome = await parser.parse(req(text))
        assert isinstance(outcome, ParseSuccess)
        assert check_output(json.dumps(outcome.data), SCHEMA) == outcome.data
        assert outcome.data["language"] == "ru" and outcome.data["topics"] == ["космос"]
        stats = sim.stats()
        assert stats.successes_by_text == {ZaiSimulator.text_key(text): 1}
        assert (stats.total_calls, stats.successes, stats.rejections) == (1, 1, {})


async def test_the_hidden_concurrency_limit_answers_1302(caplog: pytest.LogCaptureFixture) -> None:
    async with simulated(concurrency_limit=2, latency={"ms": 800}) as (sim, parser):
        with caplog.at_level(logging.WARNING, logger="channel_parser.adapters.llm"):
            outcomes = await asyncio.gather(
                *(parser.parse(req(f"post {i}", f"m{i}")) for i in range(5))
            )
        ok = [o for o in outcomes if isinstance(o, ParseSuccess)]
        failed = [o for o in outcomes if isinstance(o, LLMFailure)]
        assert len(ok) == 2 and len(failed) == 3
        assert {(f.kind, f.code) for f in failed} == {(C, "1302")}
        stats = sim.stats()
        assert stats.peak_in_flight == 2 and stats.rejections == {"1302": 3}
    lines = [r for r in caplog.records if r.name == "channel_parser.adapters.llm.openai_compatible"]
    assert len(lines) == 3 and all(r.levelname == "WARNING" for r in lines)
    shape = re.compile(
        r"^LLM concurrency limit exceeded while parsing message m\d \(provider: zai\): "
        r"Error code: 429 - \{'error': \{'code': '1302', 'message': 'High concurrency usage of "
        r"this API, please reduce concurrency or contact customer service to increase "
        r"limits'\}, 'request_id': 'sim-\d+'\}\. Will retry with backoff\.$"
    )
    assert all(shape.match(r.getMessage()) for r in lines), lines[0].getMessage()


async def test_a_limit_schedule_raises_the_hidden_limit_during_a_run() -> None:
    schedule = LimitSchedule.parse("1,3@0.4")  # 1 from the first call, 3 after 0.4 s
    async with simulated(limit_schedule=schedule, latency={"ms": 150}) as (sim, parser):
        early = await asyncio.gather(*(parser.parse(req(f"a{i}", f"a{i}")) for i in range(3)))
        assert sum(isinstance(o, ParseSuccess) for o in early) == 1
        await asyncio.sleep(0.4)
        late = await asyncio.gather(*(parser.parse(req(f"b{i}", f"b{i}")) for i in range(3)))
        assert all(isinstance(o, ParseSuccess) for o in late)
        stats = sim.stats()
        assert stats.rejections == {"1302": 2} and stats.peak_in_flight == 3
        assert stats.first_to_last_success is not None
        assert 0.55 <= stats.first_to_last_success < 5


async def test_lognormal_latency_over_http() -> None:
    latency = {"ms": 60, "distribution": "lognormal", "sigma": 0.8}
    async with simulated(latency=latency) as (sim, parser):
        started = time.monotonic()
        outcomes = await asyncio.gather(*(parser.parse(req(f"p{i}", f"p{i}")) for i in range(40)))
        took = time.monotonic() - started
        assert all(isinstance(o, ParseSuccess) for o in outcomes)
        assert sim.stats().successes == 40
        assert took < 5  # 40 concurrent calls: about the slowest of them, never their sum


async def test_the_requests_per_minute_limit_answers_1303() -> None:
    async with simulated(rpm=2) as (_, parser):
        assert isinstance(await parser.parse(req()), ParseSuccess)
        assert isinstance(await parser.parse(req()), ParseSuccess)
        failure = await parser.parse(req())
        assert isinstance(failure, LLMFailure) and (failure.kind, failure.code) == (R, "1303")


async def test_the_balance_runs_out_and_is_topped_up(caplog: pytest.LogCaptureFixture) -> None:
    async with simulated(balance=1) as (sim, parser):
        assert isinstance(await parser.parse(req()), ParseSuccess)
        with caplog.at_level(logging.WARNING, logger="channel_parser.adapters.llm"):
            failure = await parser.parse(req())
        assert isinstance(failure, LLMFailure) and (failure.kind, failure.code) == (Q, "1113")
        assert "insufficient_quota" in caplog.text and "1113" in caplog.text
        assert sim.stats().balance == 0
        assert sim.top_up(1) == 1
        assert isinstance(await parser.parse(req()), ParseSuccess)
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{sim.root_url}/admin/topup", json={"amount": 5}) as resp,
        ):
            assert await resp.json() == {"balance": 5}
        assert isinstance(await parser.parse(req()), ParseSuccess)


async def test_a_token_balance_is_spent_by_tokens() -> None:
    async with simulated(balance=10_000, balance_unit="tokens") as (sim, parser):
        assert isinstance(await parser.parse(req()), ParseSuccess)
        left = sim.stats().balance
        assert left is not None and 0 < left < 10_000 - 1


FAULTS = [
    ("500", T, "500"),
    ("503", T, "503"),
    ("drop", T, "connection"),
    ("error_in_200", T, "1305"),
    ("1301", X, "1301"),
    ("1261", X, "1261"),
    ("1211", M, "1211"),
    ("1002", M, "1002"),
    ("1312", T, "1312"),
    ("1113", Q, "1113"),
    ("1308", Q, "1308"),
    ("1310", Q, "1310"),
    ("1302", C, "1302"),
    ("1303", R, "1303"),
    ("sensitive", X, "content_filter"),
]


@pytest.mark.parametrize(("fault", "kind", "code"), FAULTS)
async def test_each_fault_is_classified(fault: str, kind: FailureKind, code: str) -> None:
    async with simulated() as (sim, parser):
        sim.script(fault)
        failure = await parser.parse(req())
        assert isinstance(failure, LLMFailure)
        assert (failure.kind, failure.code) == (kind, code)
        assert isinstance(await parser.parse(req()), ParseSuccess)  # the next call is fine
        assert sim.stats().faults == {fault: 1}


async def test_a_hang_past_the_timeout_is_transient_and_quick() -> None:
    async with simulated(call_timeout=0.5) as (sim, parser):
        sim.script("hang")
        started = time.monotonic()
        failure = await parser.parse(req())
        assert time.monotonic() - started < 3
        assert isinstance(failure, LLMFailure) and (failure.kind, failure.code) == (T, "timeout")
        assert isinstance(await parser.parse(req()), ParseSuccess)
        await asyncio.sleep(0.05)  # the server notices the client has gone
        assert sim.stats().in_flight == 0


async def test_a_wrong_key_is_refused_with_1002() -> None:
    async with simulated(api_key="the-right-key") as (_, parser):
        failure = await parser.parse(req())
        assert isinstance(failure, LLMFailure) and (failure.kind, failure.code) == (M, "1002")


async def test_output_that_is_not_json_is_asked_for_again() -> None:
    async with simulated() as (sim, parser):
        sim.script("non_json")
        outcome = await parser.parse(req())
        assert isinstance(outcome, ParseSuccess)
        assert sim.stats().total_calls == 2


async def test_output_that_breaks_the_schema_is_asked_for_again() -> None:
    async with simulated() as (sim, parser):
        sim.script("schema_break")
        assert isinstance(await parser.parse(req()), ParseSuccess)


async def test_bad_output_twice_is_rejected_with_the_reason() -> None:
    async with simulated() as (sim, parser):
        sim.script("non_json", "schema_break")
        failure = await parser.parse(req())
        assert isinstance(failure, LLMFailure)
        assert (failure.kind, failure.code) == (X, "invalid_output")
        assert "breaks the schema" in failure.message
        assert sim.stats().total_calls == 2  # one repair, no more


@pytest.mark.parametrize(
    ("fault", "delay"),
    [
        ({"kind": "1303", "headers": {"retry-after": "7"}}, 7.0),
        ({"kind": "1302", "headers": {"retry-after-ms": "2500"}}, 2.5),
        ({"kind": "1303", "headers": {"x-ratelimit-reset-tokens": "6m0s"}}, 360.0),
        ({"kind": "1303", "headers": {"x-ratelimit-reset-requests": "1h2m3.5s"}}, 3723.5),
    ],
)
async def test_retry_time_headers(fault: dict[str, object], delay: float) -> None:
    async with simulated() as (sim, parser):
        sim.script(fault)
        failure = await parser.parse(req())
        now = datetime.now(UTC)
        assert isinstance(failure, LLMFailure) and failure.retry_at is not None
        assert abs((failure.retry_at - now).total_seconds() - delay) < 2


async def test_the_reset_time_named_by_1308() -> None:
    message = "Usage limit reached for 5 hour. Your limit will reset at 2026-01-26 02:42:51"
    async with simulated() as (sim, parser):
        sim.script({"kind": "1308", "message": message})
        failure = await parser.parse(req())
        assert isinstance(failure, LLMFailure) and failure.kind is Q
        assert failure.retry_at == datetime(2026, 1, 25, 18, 42, 51, tzinfo=UTC)


async def test_faults_triggered_by_text() -> None:
    async with simulated() as (sim, parser):
        sim.trigger("BOOM", "1301")
        sim.trigger("ONCE", "503", times=1)
        assert isinstance(await parser.parse(req("calm post")), ParseSuccess)
        for _ in range(2):
            failure = await parser.parse(req("a BOOM post"))
            assert isinstance(failure, LLMFailure) and failure.code == "1301"
        assert isinstance(await parser.parse(req("ONCE")), LLMFailure)
        assert isinstance(await parser.parse(req("ONCE")), ParseSuccess)


async def test_long_posts_are_truncated() -> None:
    text = "word " * 100
    async with simulated(max_post_chars=100) as (sim, parser):
        assert isinstance(await parser.parse(req(text)), ParseSuccess)
        assert sim.stats().successes_by_text == {ZaiSimulator.text_key(text[:100]): 1}


async def test_the_admin_routes() -> None:
    async with simulated() as (sim, parser), aiohttp.ClientSession() as http:
        faults = {
            "queue": ["1302", {"kind": "1303", "headers": {"retry-after": "3"}}],
            "triggers": {"SPAM": "1301"},
        }
        async with http.post(f"{sim.root_url}/admin/faults", json=faults) as resp:
            assert await resp.json() == {"ok": True, "queued": 2, "triggers": 1}
        async with http.post(f"{sim.root_url}/admin/faults", json={"queue": ["nope"]}) as resp:
            assert resp.status == 400
        codes = [getattr(await parser.parse(req(t)), "code", "ok") for t in ("a", "b", "SPAM", "c")]
        assert codes == ["1302", "1303", "1301", "ok"]
        async with http.get(f"{sim.root_url}/admin/stats") as resp:
            stats = await resp.json()
        assert stats["total_calls"] == 4 and stats["successes"] == 1
        assert stats["rejections"] == {"1302": 1, "1303": 1, "1301": 1}
        async with http.post(f"{sim.root_url}/admin/reset") as resp:
            assert resp.status == 200
        assert sim.stats().total_calls == 0 and sim.stats().rejections == {}


async def test_the_api_key_never_reaches_a_log_or_a_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    echo = f"Incorrect API key provided: {KEY}. You can find your API key at ..."
    failures = []
    with caplog.at_level(logging.DEBUG):
        async with simulated(call_timeout=0.5) as (sim, parser):
            sim.script(
                {"kind": "1002", "message": echo},
                "1113",
                "1302",
                "hang",
                "drop",
                {"kind": "500", "message": f"upstream said {KEY}"},
            )
            for _ in range(6):
                outcome = await parser.parse(req())
                assert isinstance(outcome, LLMFailure)
                failures.append(outcome)
    assert [f.kind for f in failures] == [M, Q, C, T, T, T]
    assert caplog.records  # the failures were logged...
    for text in [caplog.text, *(f.message for f in failures), *map(repr, failures)]:
        assert KEY not in text  # ...without the key
        assert KEY[:8] not in text and KEY[-8:] not in text
