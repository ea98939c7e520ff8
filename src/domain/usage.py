"""What parsing cost: tokens, calls and time spent in LLM calls, and its price."""

from __future__ import annotations

from datetime import datetime

import attrs

from channel_parser.domain.time import require_aware


def _count(value: int) -> int:
    if value < 0:
        raise ValueError(f"a count cannot be negative, got {value}")
    return value


def _seconds(value: float) -> float:
    if value < 0:
        raise ValueError(f"seconds cannot be negative, got {value}")
    return float(value)


@attrs.frozen
class LLMUsage:
    """Tokens as the provider reports them, the number of calls (every HTTP request: a
    repair and a refused call count), and the seconds those calls took."""

    prompt_tokens: int = attrs.field(default=0, converter=_count)
    completion_tokens: int = attrs.field(default=0, converter=_count)
    calls: int = attrs.field(default=0, converter=_count)
    seconds: float = attrs.field(default=0.0, converter=_seconds)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def is_zero(self) -> bool:
        return self == NO_USAGE

    def __add__(self, other: LLMUsage) -> LLMUsage:
        return LLMUsage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.calls + other.calls,
            self.seconds + other.seconds,
        )

    def timed(self, seconds: float) -> LLMUsage:
        """The same usage, with the time the calls took (measured by the caller)."""
        return attrs.evolve(self, seconds=seconds)


NO_USAGE = LLMUsage()


def usage_hour(at: datetime) -> datetime:
    """The hour (UTC) a usage ledger counts *at* in: spending is kept per hour, so "the
    last 24 h" is counted from the start of the hour 24 h ago."""
    return require_aware(at, "at").replace(minute=0, second=0, microsecond=0)


def _price(value: float) -> float:
    if value < 0:
        raise ValueError(f"a price cannot be negative, got {value}")
    return float(value)


@attrs.frozen
class TokenPrices:
    """The provider's prices per million tokens, in the operator's currency."""

    input_per_mtok: float = attrs.field(converter=_price)
    output_per_mtok: float = attrs.field(converter=_price)

    def cost(self, usage: LLMUsage) -> float:
        """The estimated price of *usage* (prompt tokens are input, completion tokens output;
        a provider's cached-input discount is not known here, so this is an upper bound)."""
        return (
            usage.prompt_tokens * self.input_per_mtok
            + usage.completion_tokens * self.output_per_mtok
        ) / 1_000_000
