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
