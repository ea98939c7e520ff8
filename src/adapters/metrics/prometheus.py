"""Prometheus metrics, each instance on its own registry (no global state)."""

from __future__ import annotations

from collections.abc import Mapping

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

from channel_parser.application.ports.outbox import TopicStats
from channel_parser.application.use_cases.get_status import StatusReport
from channel_parser.domain.failures import FailureKind, NotificationKind
from channel_parser.domain.gate import GateState
from channel_parser.domain.message_rules import WAITING
from channel_parser.domain.status import MessageStatus
from channel_parser.domain.usage import LLMUsage

__all__ = ["CONTENT_TYPE", "PrometheusMetrics"]


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
        self.tokens = Counter(
            "channel_parser_llm_tokens",
            "LLM tokens used, by kind (prompt, completion)",
            ["kind"],
            registry=r,
        )
        self.finished = Counter(
            "channel_parser_messages_finished",
            "Messages whose outcome was saved, by new status",
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
        self.deliveries = Counter(
            "channel_parser_outbox_deliveries",
            "Tries to deliver an outbox entry, by topic and outcome (delivered, retry, failed)",
            ["topic", "outcome"],
            registry=r,
        )
        self.outbox = Gauge(
            "channel_parser_outbox_entries",
            "Outbox entries pending delivery, and given up (kept a week)",
            ["status"],
            registry=r,
        )
        self.outbox_topics = Gauge(
            "channel_parser_outbox_topic_entries",
            "Outbox entries by topic (admin, result:<route>) and state (pending, retrying, "
            "delivered and failed in the last week)",
            ["topic", "state"],
            registry=r,
        )
        self.oldest_due = Gauge(
            "channel_parser_oldest_due_seconds",
            "How long the message waiting longest to be claimed has been claimable",
            registry=r,
        )
        self.outbox_oldest = Gauge(
            "channel_parser_outbox_oldest_pending_seconds",
            "Age of the oldest outbox entry not delivered yet (0: none)",
            registry=r,
        )
        self.channel_available = Gauge(
            "channel_parser_channel_available",
            "1 when the configured channel can be read, 0 when not",
            ["channel_id"],
            registry=r,
        )
        self.listener = Gauge(
            "channel_parser_telegram_listener",
            "1 while this process holds the Telegram listener lease, 0 while it waits for it "
            "(absent in a process that runs no listener)",
            registry=None,  # registered only by a process that runs a listener
        )
        self._listener_shown = False
        self.set_gate(GateState.OPEN)
        self.storage_up.set(1)

    def llm_call(self, failure: FailureKind | None, code: str | None, seconds: float) -> None:
        outcome = "success" if failure is None else failure.value
        self.llm_calls.labels(outcome, code or "").inc()
        self.llm_latency.observe(seconds)

    def llm_usage(self, usage: LLMUsage) -> None:
        self.tokens.labels("prompt").inc(usage.prompt_tokens)
        self.tokens.labels("completion").inc(usage.completion_tokens)

    def message_finished(self, status: MessageStatus, *, from_cache: bool = False) -> None:
        self.finished.labels(status.value).inc()
        if from_cache:
            self.cache_hits.inc()

    def notification(self, kind: NotificationKind, *, sent: bool) -> None:
        self.notifications.labels(kind.value, "sent" if sent else "suppressed").inc()

    def set_concurrency(self, limit: float, in_flight: int) -> None:
        self.limit.set(limit)
        self.in_flight.set(in_flight)

    def set_gate(self, state: GateState) -> None:
        for each in GateState:
            self.gate.labels(each.value).set(1 if each is state else 0)

    def set_storage_up(self, up: bool) -> None:
        self.storage_up.set(1 if up else 0)

    def set_messages(self, by_status: Mapping[MessageStatus, int]) -> None:
        for status in MessageStatus:
            self.messages.labels(status.value).set(by_status.get(status, 0))
        self.backlog.set(sum(by_status.get(status, 0) for status in WAITING))

    def delivery(self, topic: str, outcome: str) -> None:
        self.deliveries.labels(topic, outcome).inc()

    def set_outbox(
        self, pending: int, failed: int, by_topic: Mapping[str, TopicStats] | None = None
    ) -> None:
        self.outbox.labels("pending").set(pending)
        self.outbox.labels("failed").set(failed)
        for topic, counts in (by_topic or {}).items():
            for state in ("pending", "retrying", "delivered", "failed"):
                self.outbox_topics.labels(topic, state).set(getattr(counts, state))

    def set_status(self, report: StatusReport) -> None:
        """The gauges that come from the store, as `status` reads it."""
        self.set_messages(report.stats.by_status)
        self.oldest_due.set(report.stats.oldest_due_seconds(report.at))
        for channel in report.channels:
            self.channel_available.labels(str(channel.channel_id)).set(int(channel.available))
        box = report.outbox
        self.set_outbox(box.pending, box.failed)
        oldest = box.oldest_pending_at
        self.outbox_oldest.set(0 if oldest is None else (report.at - oldest).total_seconds())

    def set_listener(self, holding: bool) -> None:
        """Whether this process holds the Telegram listener lease (it runs a listener)."""
        if not self._listener_shown:
            self.registry.register(self.listener)
            self._listener_shown = True
        self.listener.set(int(holding))

    def render(self) -> bytes:
        return generate_latest(self.registry)
