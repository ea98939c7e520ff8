"""The adapter's client is built as SPEC.md wants: our retries, 60 s, the preset's URL."""

from __future__ import annotations

import random

import pytest

from channel_parser.adapters.llm.openai_compatible import OpenAICompatibleParser
from channel_parser.adapters.llm.prompting import load_prompt_spec
from channel_parser.application.errors import ConfigurationError
from channel_parser.bootstrap.settings import load_settings
from channel_parser.simulator.config import FaultSpec, Latency, SimulatorConfig


def test_from_settings_uses_the_preset_no_sdk_retries_and_60_seconds() -> None:
    parser = OpenAICompatibleParser.from_settings(load_settings(llm_api_key="k-1"))
    client = parser._client
    assert client.max_retries == 0
    assert client.timeout == 60.0
    assert str(client.base_url).rstrip("/") == "https://api.z.ai/api/paas/v4"
    assert (parser.provider, parser.model) == ("zai", "glm-4.6")
    assert parser.fingerprint == load_prompt_spec(None, None).fingerprint("glm-4.6")


def test_thinking_and_the_output_bound_come_from_settings() -> None:
    default = OpenAICompatibleParser.from_settings(load_settings(llm_api_key="k-1"))
    assert default._config.request_options() == {
        "thinking": {"type": "disabled"},
        "max_tokens": 4096,
    }
    settings = load_settings(llm_api_key="k-1", llm_thinking="enabled", llm_max_output_tokens=0)
    told = OpenAICompatibleParser.from_settings(settings)
    assert told._config.request_options() == {"thinking": {"type": "enabled"}}


def test_swapping_the_provider_is_configuration_only() -> None:
    settings = load_settings(llm_provider="openai", llm_api_key="k-1", llm_timeout=5)
    parser = OpenAICompatibleParser.from_settings(settings)
    assert str(parser._client.base_url).rstrip("/") == "https://api.openai.com/v1"
    assert parser._client.timeout == 5


def test_a_missing_key_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="LLM_API_KEY"):
        OpenAICompatibleParser.from_settings(load_settings(llm_api_key=None))


def test_latency_distributions_are_seeded() -> None:
    for distribution in ("fixed", "uniform", "exponential"):
        latency = Latency(100, 50, distribution)  # type: ignore[arg-type]
        first = [latency.sample(random.Random(3)) for _ in range(3)]
        assert first == [latency.sample(random.Random(3)) for _ in range(3)]
        assert all(s >= 0 for s in first)
    assert Latency(250).sample(random.Random(0)) == 0.25
    assert 0.05 <= Latency(100, 50, "uniform").sample(random.Random(1)) <= 0.15


def test_simulator_config_accepts_latency_shorthands() -> None:
    assert SimulatorConfig(latency=200).latency == Latency(200)
    assert SimulatorConfig(latency={"ms": 5, "distribution": "exponential"}).latency.ms == 5


@pytest.mark.parametrize(
    "name",
    [
        "hang",
        "500",
        "503",
        "drop",
        "non_json",
        "schema_break",
        "error_in_200",
        "1301",
        "1261",
        "1211",
        "1002",
        "1312",
    ],
)
def test_every_fault_of_the_issue_is_known(name: str) -> None:
    assert FaultSpec.of(name).kind == name


def test_an_unknown_fault_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        FaultSpec.of("9999")
