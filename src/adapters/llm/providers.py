"""Provider presets: a provider's name decides the base URL and the default model."""

from __future__ import annotations

import attrs

from channel_parser.application.errors import ConfigurationError

ZAI_BASE_URL = "https://api.z.ai/api/paas/v4"
ZAI_CODING_BASE_URL = "https://api.z.ai/api/coding/paas/v4"
OPENAI_BASE_URL = "https://api.openai.com/v1"


@attrs.frozen
class Preset:
    base_url: str | None
    model: str | None


PRESETS: dict[str, Preset] = {
    "zai": Preset(ZAI_BASE_URL, "glm-4.6"),
    "zai-coding": Preset(ZAI_CODING_BASE_URL, "glm-4.6"),
    "openai": Preset(OPENAI_BASE_URL, "gpt-4o-mini"),
    "compatible": Preset(None, None),  # any OpenAI-compatible server: both must be given
}


@attrs.frozen
class ProviderConfig:
    """Where and what to call; the key stays out of ``repr`` so it never reaches a log."""

    name: str
    base_url: str
    model: str
    api_key: str = attrs.field(repr=False)


def resolve_provider(
    name: str, base_url: str | None, model: str | None, api_key: str | None
) -> ProviderConfig:
    """Apply the preset of *name*; explicit values win. Raises ConfigurationError naming
    the setting that is missing."""
    preset = PRESETS.get(name)
    if preset is None:
        known = ", ".join(PRESETS)
        raise ConfigurationError(f"setting LLM_PROVIDER: unknown provider {name!r} ({known})")
    url = base_url or preset.base_url
    chosen_model = model or preset.model
    if not url:
        raise ConfigurationError(f"setting LLM_BASE_URL: required for provider {name!r}")
    if not chosen_model:
        raise ConfigurationError(f"setting LLM_MODEL: required for provider {name!r}")
    if not api_key:
        raise ConfigurationError(f"setting LLM_API_KEY: required for provider {name!r}")
    return ProviderConfig(name=name, base_url=url.rstrip("/"), model=chosen_model, api_key=api_key)
