"""The LLM parser port: a post's text in, a schema-valid JSON object or a classified failure out."""

from __future__ import annotations

from typing import Any, Protocol

import attrs

from channel_parser.domain.failures import LLMFailure
from channel_parser.domain.usage import NO_USAGE, LLMUsage


@attrs.frozen
class ParseRequest:
    text: str
    message_ref: str = ""  # for logs: "channel/message" of the post being parsed


@attrs.frozen
class ParseSuccess:
    data: dict[str, Any]
    # What the calls consumed (tokens as the provider reports them, every call counted; the
    # caller times them). A failure carries its own (LLMFailure.usage).
    usage: LLMUsage = attrs.field(default=NO_USAGE, eq=False)
    model: str | None = None  # the model the provider says answered, when it says


ParseOutcome = ParseSuccess | LLMFailure


class LLMParser(Protocol):
    @property
    def provider(self) -> str:
        """The provider's name, for logs and metrics ("zai", "openai", ...)."""
        ...

    @property
    def model(self) -> str:
        """The configured model."""
        ...

    @property
    def fingerprint(self) -> str:
        """Identifies the prompt, schema and model: equal fingerprints give reusable results."""
        ...

    @property
    def settings_fingerprint(self) -> str:
        """Identifies the provider settings (provider, base URL, model, a hash of the key;
        never the key): a gate closed for misconfiguration remembers it."""
        ...

    async def parse(self, request: ParseRequest) -> ParseOutcome:
        """Parse one text. Never raises for provider failures: they come back classified
        (anything it raises all the same is recorded as an internal error)."""
        ...
