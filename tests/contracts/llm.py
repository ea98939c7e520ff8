"""The LLMParser port's contract: the fake and the real adapter (over HTTP against the
simulator) both pass it.

A subclass provides the ``harness`` fixture: a parser plus a way to make its next call
meet a given provider situation.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

import pytest

from channel_parser.application.ports.llm import LLMParser, ParseRequest, ParseSuccess
from channel_parser.domain.failures import FailureKind, LLMFailure

# The provider situations every implementation must be able to stage, and what they mean.
SITUATIONS: dict[str, FailureKind] = {
    "concurrency": FailureKind.CONCURRENCY_LIMITED,
    "rate": FailureKind.RATE_LIMITED,
    "quota": FailureKind.QUOTA_EXHAUSTED,
    "transient": FailureKind.TRANSIENT,
    "rejected": FailureKind.REJECTED,
    "misconfigured": FailureKind.MISCONFIGURED,
}


class ParserHarness(Protocol):
    parser: LLMParser

    def stage(self, situation: str) -> None:
        """Make the next call meet *situation* (a key of SITUATIONS)."""
        ...


class LLMParserContract:
    @pytest.fixture
    def harness(self) -> ParserHarness:
        raise NotImplementedError

    async def test_a_post_parses_to_a_json_object(self, harness: ParserHarness) -> None:
        outcome = await harness.parser.parse(ParseRequest("Hello from the channel.", "1/1"))
        assert isinstance(outcome, ParseSuccess)
        assert isinstance(outcome.data, dict) and outcome.data

    async def test_same_text_same_result(self, harness: ParserHarness) -> None:
        first = await harness.parser.parse(ParseRequest("Deterministic post #news", "1/1"))
        second = await harness.parser.parse(ParseRequest("Deterministic post #news", "1/2"))
        assert first == second

    @pytest.mark.parametrize("situation", sorted(SITUATIONS))
    async def test_each_failure_comes_back_classified(
        self, harness: ParserHarness, situation: str
    ) -> None:
        harness.stage(situation)
        outcome = await harness.parser.parse(ParseRequest("A post.", "7/42"))
        assert isinstance(outcome, LLMFailure)
        assert outcome.kind is SITUATIONS[situation]
        assert outcome.code
        assert outcome.retry_at is None or outcome.retry_at.tzinfo is not None

    async def test_an_outcome_says_what_it_cost(self, harness: ParserHarness) -> None:
        outcome = await harness.parser.parse(ParseRequest("What does this cost?", "1/1"))
        assert isinstance(outcome, ParseSuccess)
        assert outcome.usage.calls >= 1 and outcome.usage.total_tokens > 0
        harness.stage("concurrency")
        refused = await harness.parser.parse(ParseRequest("x", "1/2"))
        assert isinstance(refused, LLMFailure) and refused.usage.calls >= 1

    async def test_a_failure_does_not_stick(self, harness: ParserHarness) -> None:
        harness.stage("concurrency")
        assert isinstance(await harness.parser.parse(ParseRequest("x", "1")), LLMFailure)
        assert isinstance(await harness.parser.parse(ParseRequest("x", "1")), ParseSuccess)

    async def test_calls_may_run_concurrently(self, harness: ParserHarness) -> None:
        outcomes = await asyncio.gather(
            *(harness.parser.parse(ParseRequest(f"post {i}", str(i))) for i in range(5))
        )
        assert all(isinstance(o, ParseSuccess) for o in outcomes)

    def test_provider_and_fingerprint(self, harness: ParserHarness) -> None:
        assert harness.parser.provider and harness.parser.model
        assert harness.parser.fingerprint == harness.parser.fingerprint
        assert len(harness.parser.fingerprint) >= 4
