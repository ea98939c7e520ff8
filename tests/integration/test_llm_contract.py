"""The LLMParser contract against the real adapter over HTTP, against the Z.AI simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from channel_parser.adapters.llm.openai_compatible import OpenAICompatibleParser
from channel_parser.simulator.server import ZaiSimulator
from tests.contracts.llm import LLMParserContract
from tests.integration.llm_support import simulated

# How the simulator stages each situation of the contract.
FAULTS = {
    "concurrency": "1302",
    "rate": "1303",
    "quota": "1113",
    "transient": "503",
    "rejected": "1301",
    "misconfigured": "1002",
}


class SimulatorHarness:
    def __init__(self, sim: ZaiSimulator, parser: OpenAICompatibleParser) -> None:
        self.sim = sim
        self.parser = parser

    def stage(self, situation: str) -> None:
        self.sim.script(FAULTS[situation])


class TestOpenAICompatibleParserOverHTTP(LLMParserContract):
    @pytest.fixture
    async def harness(self) -> AsyncIterator[SimulatorHarness]:
        async with simulated() as (sim, parser):
            yield SimulatorHarness(sim, parser)
