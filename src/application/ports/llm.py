"""The LLM parser port: a post's text in, a schema-valid JSON object or a classified failure out.

A post is parsed under the profile of its channel (the prompt and schema an operator gave
that channel; the default profile for every other): ``profile_for`` names it before the
call, so that the parse cache and the recorded result carry it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

import attrs

from channel_parser.domain.failures import LLMFailure
from channel_parser.domain.usage import NO_USAGE, LLMUsage

DEFAULT_PROFILE = "default"  # the profile of the environment's settings


@attrs.frozen
class PostContext:
    """What the LLM is told about a post besides its text, as data apart from the text:
    when it was posted and where (so that "until Friday" or "today's price" can be
    resolved). Every part may be unknown (None)."""

    posted_at: datetime | None = None
    channel_title: str | None = None
    channel_username: str | None = None  # without the @


@attrs.frozen
class ParseRequest:
    text: str
    message_ref: str = ""  # for logs: "channel/message" of the post being parsed
    channel_id: int | None = None  # picks the profile (None: the default profile)
    context: PostContext = PostContext()


@attrs.frozen
class ParserProfile:
    """A prompt and schema a post is parsed under."""

    name: str  # DEFAULT_PROFILE, or a profile of the config file
    fingerprint: str  # model + prompt + schema: equal fingerprints give reusable results
    spec_hash: str  # prompt + schema only, short: recorded with each result


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
        """The default profile's fingerprint (prompt, schema and model)."""
        ...

    def profile_for(self, channel_id: int | None, username: str | None = None) -> ParserProfile:
        """The profile that parses posts of the channel (by its id or @username, without
        the @); the default profile for a channel no profile names."""
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
