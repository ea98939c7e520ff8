"""The LLMParser contract against the FakeParser the engine's unit tests use."""

from __future__ import annotations

import pytest

from channel_parser.domain.failures import LLMFailure
from tests.contracts.llm import SITUATIONS, LLMParserContract
from tests.fakes.llm import FakeParser


class FakeHarness:
    def __init__(self) -> None:
        self.parser = FakeParser()

    def stage(self, situation: str) -> None:
        self.parser.script(LLMFailure(SITUATIONS[situation], f"fake-{situation}", situation))


class TestFakeParser(LLMParserContract):
    @pytest.fixture
    def harness(self) -> FakeHarness:
        return FakeHarness()
