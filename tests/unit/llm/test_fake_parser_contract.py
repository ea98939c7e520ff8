"""The LLMParser contract against the FakeParser the engine's unit tests use."""

from __future__ import annotations

import pytest

from channel_parser.domain.failures import LLMFailure
from channel_parser.domain.usage import LLMUsage
from tests.contracts.llm import SITUATIONS, LLMParserContract
from tests.fakes.llm import FakeParser


class FakeHarness:
    def __init__(self) -> None:
        self.parser = FakeParser()

    def stage(self, situation: str) -> None:
        failure = LLMFailure(
            SITUATIONS[situation], f"fake-{situation}", situation, usage=LLMUsage(calls=1)
        )
        self.parser.script(failure)


class TestFakeParser(LLMParserContract):
    @pytest.fixture
    def harness(self) -> FakeHarness:
        return FakeHarness()
