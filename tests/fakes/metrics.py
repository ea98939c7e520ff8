"""Metrics that count what they are told, for assertions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from channel_parser.application.ports.outbox import TopicStats
from channel_parser.domain.failures import FailureKind, NotificationKind
from channel_parser.domain.gate import GateState
from channel_parser.domain.status import MessageStatus
from channel_parser.domain.usage import NO_USAGE, LLMUsage


class RecordingMetrics:
    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str | None]] = Counter()
        self.finished: Counter[str] = Counter()
        self.cache_hits = 0
        self.notifications: Counter[tuple[str, bool]] = Counter()
        self.limit: float | None = None
        self.in_flight = 0
        self.gate = "open"
        self.storage_up = True
        self.by_status: dict[str, int] = {}
        self.usage = NO_USAGE
        self.deliveries: Counter[tuple[str, str]] = Counter()
        self.outbox: tuple[int, int] = (0, 0)  # pending, failed

    def llm_call(self, failure: FailureKind | None, code: str | None, seconds: float) -> None:
        self.calls[("success" if failure is None else str(failure), code)] += 1

    def llm_usage(self, usage: LLMUsage) -> None:
        self.usage += usage

    def message_finished(self, status: MessageStatus, *, from_cache: bool = False) -> None:
        self.finished[status] += 1
        self.cache_hits += int(from_cache)

    def notification(self, kind: NotificationKind, *, sent: bool) -> None:
        self.notifications[(kind, sent)] += 1

    def set_concurrency(self, limit: float, in_flight: int) -> None:
        self.limit, self.in_flight = limit, in_flight

    def set_gate(self, state: GateState) -> None:
        self.gate = state

    def set_storage_up(self, up: bool) -> None:
        self.storage_up = up

    def set_messages(self, by_status: Mapping[MessageStatus, int]) -> None:
        self.by_status = {str(status): n for status, n in by_status.items()}

    def delivery(self, topic: str, outcome: str) -> None:
        self.deliveries[(topic, outcome)] += 1

    def set_outbox(
        self, pending: int, failed: int, by_topic: Mapping[str, TopicStats] | None = None
    ) -> None:
        self.outbox = (pending, failed)
        self.outbox_topics = dict(by_topic or {})
