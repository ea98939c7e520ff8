"""LLMUsage adds up what calls cost; TokenPrices turns it into an estimate."""

from __future__ import annotations

import pytest

from channel_parser.domain.usage import NO_USAGE, LLMUsage, TokenPrices


def test_usage_adds_up_field_by_field() -> None:
    first = LLMUsage(prompt_tokens=100, completion_tokens=20, calls=1, seconds=0.5)
    repair = LLMUsage(prompt_tokens=150, completion_tokens=25, calls=1, seconds=0.25)
    refused = LLMUsage(calls=1)
    total = first + repair + refused
    assert total == LLMUsage(250, 45, 3, 0.75)
    assert total.total_tokens == 295
    assert NO_USAGE.is_zero and not refused.is_zero
    assert NO_USAGE + first == first


def test_timed_sets_the_seconds_only() -> None:
    assert LLMUsage(10, 5, 2).timed(1.25) == LLMUsage(10, 5, 2, 1.25)


@pytest.mark.parametrize(
    "fields",
    [{"prompt_tokens": -1}, {"completion_tokens": -5}, {"calls": -1}, {"seconds": -0.1}],
)
def test_negative_usage_is_refused(fields: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="negative"):
        LLMUsage(**fields)  # type: ignore[arg-type]


def test_prices_per_million_tokens() -> None:
    prices = TokenPrices(input_per_mtok=0.6, output_per_mtok=2.2)
    usage = LLMUsage(prompt_tokens=2_000_000, completion_tokens=500_000, calls=9)
    assert prices.cost(usage) == pytest.approx(0.6 * 2 + 2.2 * 0.5)
    assert prices.cost(NO_USAGE) == 0
    with pytest.raises(ValueError, match="negative"):
        TokenPrices(-1, 0)
