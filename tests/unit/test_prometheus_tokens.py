"""Prometheus counts the LLM's tokens by kind."""

from __future__ import annotations

from channel_parser.adapters.metrics.prometheus import PrometheusMetrics
from channel_parser.domain.usage import LLMUsage


def test_tokens_are_counted_by_kind() -> None:
    metrics = PrometheusMetrics()
    metrics.llm_usage(LLMUsage(prompt_tokens=500, completion_tokens=60, calls=1))
    metrics.llm_usage(LLMUsage(prompt_tokens=20, completion_tokens=0, calls=1))
    text = metrics.render().decode()
    assert 'channel_parser_llm_tokens_total{kind="prompt"} 520.0' in text
    assert 'channel_parser_llm_tokens_total{kind="completion"} 60.0' in text
