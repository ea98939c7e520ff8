"""Helpers for the LLM integration tests: a simulator and a real parser pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from channel_parser.adapters.llm.openai_compatible import OpenAICompatibleParser
from channel_parser.adapters.llm.prompting import load_prompt_spec
from channel_parser.adapters.llm.providers import Thinking, resolve_provider
from channel_parser.simulator.config import SimulatorConfig
from channel_parser.simulator.server import ZaiSimulator

KEY = "sk-zai-test-0123456789abcdefSECRET"


@asynccontextmanager
async def simulated(
    call_timeout: float = 5.0,
    max_post_chars: int = 20_000,
    key: str = KEY,
    thinking: Thinking | None = None,
    max_output_tokens: int = 0,
    **config: Any,
) -> AsyncIterator[tuple[ZaiSimulator, OpenAICompatibleParser]]:
    """A running simulator and the real adapter (openai SDK, real HTTP) talking to it."""
    async with ZaiSimulator(SimulatorConfig(**config)) as sim:
        provider = resolve_provider(
            "zai",
            sim.base_url,
            None,
            key,
            thinking=thinking,
            max_output_tokens=max_output_tokens,
        )
        parser = OpenAICompatibleParser(
            provider,
            load_prompt_spec(None, None),
            timeout=call_timeout,
            max_post_chars=max_post_chars,
        )
        async with parser:
            yield sim, parser
