"""Prometheus metrics, each instance on its own registry (no global state)."""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST as CONTENT_TYPE,
)
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

__all__ = ["CONTENT_TYPE", "PrometheusMetrics"]

GATE_STATES = ("open", "quota_exhausted", "misconfigured")
STATUSES = ("pending", "processing", "retry", "done", "error")


class PrometheusMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.llm_calls = Counter(
            "channel_parser_llm_calls",
            "LLM calls by outcome and provider code",
            ["outcome", "code"],
            registry=r,
        )
        self.llm_latency = Histogram(
            "channel_parser_llm_call_seconds",
            "LLM call duration",
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120),
            registry=r,
        )
        self.finished = Counter(
            "channel_parser_messages_finished",
            "Messages leaving processing, by new status",
            ["status"],
            registry=r,
        )
        self.cache_hits = Counter(
            "channel_parser_cache_hits", "Posts answered from the parse cache", registry=r
        )
        self.notifications = Counter(
            "channel_parser_notifications",
            "Admin notifications by kind, sent or suppressed",
            ["kind", "result"],
            registry=r,
        )
        self.limit = Gauge(
            "channel_parser_concurrency_limit", "The learned concurrency limit", registry=r
        )
        self.in_flight = Gauge("channel_parser_llm_in_flight", "LLM calls in flight", registry=r)
        self.gate = Gauge(
            "channel_parser_quota_gate", "1 for the gate's current state", ["state"], registry=r
        )
        self.storage_up = Gauge("channel_parser_storage_up", "1 when the store answers", registry=r)
        self.messages = Gauge(
            "channel_parser_messages", "Stored messages by status", ["status"], registry=r
        )
        self.backlog = Gauge(
            "channel_parser_backlog",
            "Messages waiting to be parsed (pending + retry)",
            registry=r,
        )
        self.set_gate("open")
        self.storage_is_up = True
        self.storage_up.set(1)

    def llm_call(self, outcome: str, code: str | None, seconds: float) -> None:
        self.llm_calls.labels(outcome, code or "").inc()
        self.llm_latency.observe(seconds)

    def message_finished(self, status: str, *, from_cache: bool = False) -> None:
        self.finished.labels(status).inc()
        if from_cache:
            self.cache_hits.inc()

    def notification(self, kind: str, *, sent: bool) -> None:
        self.notifications.labels(kind, "sent" if sent else "suppressed").inc()

    def set_concurrency(self, limit: float, in_flight: int) -> None:
        self.limit.set(limit)
        self.in_flight.set(in_flight)

    def set_gate(self, state: str) -> None:
        for name in GATE_STATES:
            self.gate.labels(name).set(1 if name == state else 0)

    def set_storage_up(self, up: bool) -> None:
        self.storage_is_up = up
        self.storage_up.set(1 if up else 0)

    def set_messages(self, by_status: dict[str, int]) -> None:
        for status in STATUSES:
            self.messages.labels(status).set(by_status.get(status, 0))
        self.backlog.set(by_status.get("pending", 0) + by_status.get("retry", 0))

    def render(self) -> bytes:
        return generate_latest(self.registry)
