"""What the engine reports for monitoring (Prometheus in production), in the domain's terms."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from channel_parser.application.ports.outbox import TopicStats
from channel_parser.domain.failures import FailureKind, NotificationKind
from channel_parser.domain.gate import GateState
from channel_parser.domain.status import MessageStatus
from channel_parser.domain.usage import LLMUsage


class Metrics(Protocol):
    def llm_call(self, failure: FailureKind | None, code: str | None, seconds: float) -> None:
        """One LLM call ended: *failure* is None when it succeeded, else its kind."""
        ...

    def llm_usage(self, usage: LLMUsage) -> None:
        """What one parse's (or probe's) calls consumed: tokens by kind."""
        ...

    def message_finished(self, status: MessageStatus, *, from_cache: bool = False) -> None:
        """A message left PROCESSING for *status* (done, retry, error): called once its
        outcome is saved, never for an outcome refused because the lease was lost."""
        ...

    def notification(self, kind: NotificationKind, *, sent: bool) -> None: ...

    def set_concurrency(self, limit: float, in_flight: int) -> None: ...

    def set_gate(self, state: GateState) -> None: ...

    def set_storage_up(self, up: bool) -> None: ...

    def set_messages(self, by_status: Mapping[MessageStatus, int]) -> None:
        """How many stored messages are in each status (the backlog is pending + retry)."""
        ...

    def delivery(self, topic: str, outcome: str) -> None:
        """One try of an outbox entry: *outcome* is delivered, retry or failed."""
        ...

    def set_outbox(
        self, pending: int, failed: int, by_topic: Mapping[str, TopicStats] | None = None
    ) -> None:
        """Outbox entries waiting to be delivered, and given up (kept for a week); the
        same per topic (``admin``, ``result:<route>``) with the delivered ones."""
        ...
