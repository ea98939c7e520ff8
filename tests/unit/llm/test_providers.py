"""Provider presets and the settings they need."""

from __future__ import annotations

import pytest

from channel_parser.adapters.llm.providers import resolve_provider
from channel_parser.application.errors import ConfigurationError


@pytest.mark.parametrize(
    ("name", "url", "model"),
    [
        ("zai", "https://api.z.ai/api/paas/v4", "glm-4.6"),
        ("zai-coding", "https://api.z.ai/api/coding/paas/v4", "glm-4.6"),
        ("openai", "https://api.openai.com/v1", "gpt-4o-mini"),
    ],
)
def test_presets(name: str, url: str, model: str) -> None:
    config = resolve_provider(name, None, None, "k-123")
    assert (config.name, config.base_url, config.model) == (name, url, model)


def test_explicit_values_win_over_the_preset() -> None:
    config = resolve_provider("zai", "http://127.0.0.1:9/api/paas/v4/", "glm-4.5-air", "k")
    assert (config.base_url, config.model) == ("http://127.0.0.1:9/api/paas/v4", "glm-4.5-air")


@pytest.mark.parametrize(
    ("name", "url", "model", "key", "setting"),
    [
        ("compatible", None, "m", "k", "LLM_BASE_URL"),
        ("compatible", "http://x", None, "k", "LLM_MODEL"),
        ("zai", None, None, None, "LLM_API_KEY"),
        ("zai", None, None, "", "LLM_API_KEY"),
        ("anthropic", None, None, "k", "LLM_PROVIDER"),
    ],
)
def test_a_missing_setting_is_named(
    name: str, url: str | None, model: str | None, key: str | None, setting: str
) -> None:
    with pytest.raises(ConfigurationError, match=f"^setting {setting}: "):
        resolve_provider(name, url, model, key)


def test_the_key_stays_out_of_repr() -> None:
    assert "sk-very-secret" not in repr(resolve_provider("zai", None, None, "sk-very-secret"))


@pytest.mark.parametrize(
    ("name", "url", "options"),
    [
        ("zai", None, {"thinking": {"type": "disabled"}, "max_tokens": 4096}),
        ("zai-coding", None, {"thinking": {"type": "disabled"}, "max_tokens": 4096}),
        ("openai", None, {"max_completion_tokens": 4096}),
        ("compatible", "http://127.0.0.1:9/v1", {"max_tokens": 4096}),
    ],
)
def test_request_options_by_preset(name: str, url: str | None, options: dict[str, object]) -> None:
    """Thinking is off for Z.AI unless told; each API gets the bound under its own name."""
    config = resolve_provider(name, url, "m", "k", max_output_tokens=4096)
    assert config.request_options() == options


def test_thinking_and_the_bound_can_be_set_or_left_to_the_provider() -> None:
    enabled = resolve_provider("zai", None, None, "k", thinking="enabled")
    assert enabled.request_options() == {"thinking": {"type": "enabled"}}
    left = resolve_provider("zai", None, None, "k", thinking="provider", max_output_tokens=0)
    assert left.request_options() == {}
    told = resolve_provider("compatible", "http://x", "m", "k", thinking="disabled")
    assert told.request_options() == {"thinking": {"type": "disabled"}}


def test_openai_refuses_a_thinking_option() -> None:
    with pytest.raises(ConfigurationError, match=r"^setting LLM_THINKING: "):
        resolve_provider("openai", None, None, "k", thinking="disabled")
    assert resolve_provider("openai", None, None, "k", thinking="provider").thinking == "provider"
