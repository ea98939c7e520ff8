"""Metrics that count what they are told, for assertions."""

from __future__ import annotations

from collections import Counter


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

    def llm_call(self, outcome: str, code: str | None, seconds: float) -> None:
        self.calls[(outcome, code)] += 1

    def message_finished(self, status: str, *, from_cache: bool = False) -> None:
        self.finished[status] += 1
        self.cache_hits += int(from_cache)

    def notification(self, kind: str, *, sent: bool) -> None:
        self.notifications[(kind, sent)] += 1

    def set_concurrency(self, limit: float, in_flight: int) -> None:
        self.limit, self.in_flight = limit, in_flight

    def set_gate(self, state: str) -> None:
        self.gate = state

    def set_storage_up(self, up: bool) -> None:
        self.storage_up = up

    def set_messages(self, by_status: dict[str, int]) -> None:
        self.by_status = dict(by_status)
