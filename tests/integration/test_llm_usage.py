"""What a parse cost, as the real adapter reads it from the completion's ``usage`` over HTTP,
and the request options (thinking, the output bound) as the simulator receives them."""

from __future__ import annotations

from channel_parser.application.ports.llm import ParseRequest, ParseSuccess
from channel_parser.domain.failures import FailureKind, LLMFailure
from tests.integration.llm_support import simulated

TEXT = "Ищем Python-разработчика, удалённо, 300 000 ₽. #вакансия"


def req(text: str = TEXT) -> ParseRequest:
    return ParseRequest(text, "-1001/7")


async def test_a_parse_reports_its_tokens_one_call_and_the_model() -> None:
    async with simulated() as (_, parser):
        outcome = await parser.parse(req())
    assert isinstance(outcome, ParseSuccess)
    assert outcome.usage.calls == 1
    assert outcome.usage.prompt_tokens > 100  # the system prompt with the schema, the post
    assert 0 < outcome.usage.completion_tokens < outcome.usage.prompt_tokens
    assert outcome.model == "glm-4.6"


async def test_a_repair_counts_both_calls_and_their_tokens() -> None:
    async with simulated() as (sim, parser):
        one = await parser.parse(req())
        sim.script("non_json")
        repaired = await parser.parse(req())
    assert isinstance(one, ParseSuccess) and isinstance(repaired, ParseSuccess)
    assert repaired.usage.calls == 2
    # the repair resends the conversation: more prompt tokens than one call
    assert repaired.usage.prompt_tokens > 2 * one.usage.prompt_tokens
    assert repaired.usage.completion_tokens > one.usage.completion_tokens


async def test_a_refused_call_counts_as_a_call_without_tokens() -> None:
    async with simulated() as (sim, parser):
        sim.script("1302")
        failure = await parser.parse(req())
        sim.script("non_json", "schema_break")
        rejected = await parser.parse(req())
    assert isinstance(failure, LLMFailure) and failure.kind is FailureKind.CONCURRENCY_LIMITED
    assert (failure.usage.calls, failure.usage.total_tokens) == (1, 0)
    assert isinstance(rejected, LLMFailure) and rejected.code == "invalid_output"
    assert rejected.usage.calls == 2 and rejected.usage.completion_tokens > 0


async def test_zai_is_told_not_to_think_and_the_bound_is_sent() -> None:
    async with simulated(max_output_tokens=4096) as (sim, parser):
        outcome = await parser.parse(req())
        stats = sim.stats()
    assert isinstance(outcome, ParseSuccess)
    assert stats.thinking == {"disabled": 1}
    assert stats.max_tokens == {"4096": 1}


async def test_thinking_costs_output_tokens() -> None:
    async with simulated(thinking="disabled") as (_, quiet):
        without = await quiet.parse(req())
    async with simulated(thinking="enabled") as (sim, thinking):
        with_thinking = await thinking.parse(req())
        assert sim.stats().thinking == {"enabled": 1}
    async with simulated(thinking="provider") as (sim, left):
        await left.parse(req())
        assert sim.stats().thinking == {"absent": 1}  # nothing sent: GLM decides
    assert isinstance(without, ParseSuccess) and isinstance(with_thinking, ParseSuccess)
    assert with_thinking.data == without.data
    assert with_thinking.usage.completion_tokens >= without.usage.completion_tokens + 200


async def test_an_answer_cut_at_the_bound_is_rejected_without_a_repair() -> None:
    async with simulated(max_output_tokens=20) as (sim, parser):
        failure = await parser.parse(req())
        assert sim.stats().total_calls == 1
    assert isinstance(failure, LLMFailure)
    assert (failure.kind, failure.code) == (FailureKind.REJECTED, "length")
    assert "LLM_MAX_OUTPUT_TOKENS" in failure.message and "20" in failure.message
    assert failure.usage.calls == 1 and failure.usage.completion_tokens == 20
