"""The gauges `run` refreshes from the store: backlog, the oldest due message, each
channel, the outbox, and the Telegram listener's lease (only where a listener runs)."""

from __future__ import annotations

from datetime import timedelta

import attrs

from channel_parser.adapters.metrics.prometheus import PrometheusMetrics
from channel_parser.application.ports.outbox import OutboxStats
from channel_parser.application.ports.storage import MessageStats
from channel_parser.domain.status import MessageStatus
from tests.unit.test_status_render import AT, report


def value(metrics: PrometheusMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_the_status_gauges() -> None:
    metrics = PrometheusMetrics()
    counts = {s: 0 for s in MessageStatus} | {MessageStatus.PENDING: 3, MessageStatus.RETRY: 2}
    stats = MessageStats(
        counts, {}, {}, AT - timedelta(seconds=30), oldest_pending_since=AT - timedelta(minutes=7)
    )
    outbox = OutboxStats(pending=2, failed=1, oldest_pending_at=AT - timedelta(seconds=90))
    metrics.set_status(attrs.evolve(report(), stats=stats, outbox=outbox))
    assert value(metrics, "channel_parser_backlog") == 5
    assert value(metrics, "channel_parser_oldest_due_seconds") == 420
    assert value(metrics, "channel_parser_channel_available", channel_id="-1001") == 1
    assert value(metrics, "channel_parser_channel_available", channel_id="-1003") == 0
    assert value(metrics, "channel_parser_outbox_entries", status="failed") == 1
    assert value(metrics, "channel_parser_outbox_oldest_pending_seconds") == 90


def test_the_listener_gauge_only_where_a_listener_runs() -> None:
    metrics = PrometheusMetrics()
    assert value(metrics, "channel_parser_telegram_listener") is None
    metrics.set_listener(False)
    assert value(metrics, "channel_parser_telegram_listener") == 0
    metrics.set_listener(True)
    assert value(metrics, "channel_parser_telegram_listener") == 1
    assert b"channel_parser_telegram_listener 1.0" in metrics.render()
