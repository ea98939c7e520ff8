"""Provider presets: a provider's name decides the base URL, the default model and how
the request options are sent.

- Thinking (GLM-4.5 and later decide by themselves whether to "think" unless told; it
  costs output tokens and seconds): Z.AI takes ``"thinking": {"type": "enabled" |
  "disabled"}`` in the request body (https://docs.z.ai/guides/capabilities/thinking);
  the Z.AI presets send ``disabled`` unless LLM_THINKING says otherwise. OpenAI has no
  such field, so nothing is sent there.
- The bound on output tokens: Z.AI's ``max_tokens``
  (https://docs.z.ai/guides/overview/concept-param); OpenAI's ``max_completion_tokens``,
  which replaced the deprecated ``max_tokens`` and counts reasoning tokens too
  (https://platform.openai.com/docs/api-reference/chat/create). Other OpenAI-compatible
  servers get ``max_tokens``, the field they most widely accept.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

from channel_parser.application.errors import ConfigurationError

ZAI_BASE_URL = "https://api.z.ai/api/paas/v4"
ZAI_CODING_BASE_URL = "https://api.z.ai/api/coding/paas/v4"
OPENAI_BASE_URL = "https://api.openai.com/v1"


Thinking = Literal["disabled", "enabled", "provider"]  # "provider": send nothing


@attrs.frozen
class Preset:
    base_url: str | None
    model: str | None
    thinking: Thinking = "provider"  # the default of LLM_THINKING for this provider
    takes_thinking: bool = True  # False: the API refuses a "thinking" field
    max_tokens_field: str = "max_tokens"


PRESETS: dict[str, Preset] = {
    "zai": Preset(ZAI_BASE_URL, "glm-4.6", thinking="disabled"),
    "zai-coding": Preset(ZAI_CODING_BASE_URL, "glm-4.6", thinking="disabled"),
    "openai": Preset(
        OPENAI_BASE_URL,
        "gpt-4o-mini",
        takes_thinking=False,
        max_tokens_field="max_completion_tokens",
    ),
    "compatible": Preset(None, None),  # any OpenAI-compatible server: both must be given
}


@attrs.frozen
class ProviderConfig:
    """Where and what to call; the key stays out of ``repr`` so it never reaches a log."""

    name: str
    base_url: str
    model: str
    api_key: str = attrs.field(repr=False)
    thinking: Thinking = "provider"
    max_output_tokens: int = 0  # 0: no bound is sent (the provider's own applies)
    max_tokens_field: str = "max_tokens"

    def request_options(self) -> dict[str, Any]:
        """The body fields besides model, messages and response_format."""
        options: dict[str, Any] = {}
        if self.thinking != "provider":
            options["thinking"] = {"type": self.thinking}
        if self.max_output_tokens:
            options[self.max_tokens_field] = self.max_output_tokens
        return options


def _preset(name: str) -> Preset:
    preset = PRESETS.get(name)
    if preset is None:
        known = ", ".join(PRESETS)
        raise ConfigurationError(f"setting LLM_PROVIDER: unknown provider {name!r} ({known})")
    return preset


def resolve_model(name: str, model: str | None) -> str:
    """The model calls go to: *model*, else the preset's (no key needed to know it)."""
    chosen = model or _preset(name).model
    if not chosen:
        raise ConfigurationError(f"setting LLM_MODEL: required for provider {name!r}")
    return chosen


def resolve_provider(
    name: str,
    base_url: str | None,
    model: str | None,
    api_key: str | None,
    *,
    thinking: Thinking | None = None,
    max_output_tokens: int = 0,
) -> ProviderConfig:
    """Apply the preset of *name*; explicit values win (*thinking* None: the preset's).
    Raises ConfigurationError naming the setting that is missing or does not fit."""
    preset = _preset(name)
    url = base_url or preset.base_url
    if not url:
        raise ConfigurationError(f"setting LLM_BASE_URL: required for provider {name!r}")
    chosen_model = resolve_model(name, model)
    if not api_key:
        raise ConfigurationError(f"setting LLM_API_KEY: required for provider {name!r}")
    chosen_thinking = thinking or preset.thinking
    if chosen_thinking != "provider" and not preset.takes_thinking:
        raise ConfigurationError(
            f"setting LLM_THINKING: provider {name!r} takes no thinking option; use 'provider'"
        )
    if max_output_tokens < 0:
        raise ConfigurationError("setting LLM_MAX_OUTPUT_TOKENS: must not be negative")
    return ProviderConfig(
        name=name,
        base_url=url.rstrip("/"),
        model=chosen_model,
        api_key=api_key,
        thinking=chosen_thinking,
        max_output_tokens=max_output_tokens,
        max_tokens_field=preset.max_tokens_field,
    )
