"""/metrics shows each outbox topic's entries (admin, and each delivery route)."""

from __future__ import annotations

from channel_parser.adapters.metrics.prometheus import PrometheusMetrics
from channel_parser.application.ports.outbox import TopicStats


def test_each_routes_entries_are_gauges() -> None:
    metrics = PrometheusMetrics()
    metrics.set_outbox(3, 1, {"result:jobs": TopicStats(pending=3, delivered=50, retrying=1)})
    text = metrics.render().decode()
    assert 'channel_parser_outbox_topic_entries{state="pending",topic="result:jobs"} 3.0' in text
    assert 'channel_parser_outbox_topic_entries{state="delivered",topic="result:jobs"} 50.0' in text
    assert 'channel_parser_outbox_topic_entries{state="retrying",topic="result:jobs"} 1.0' in text
