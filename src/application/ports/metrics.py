"""What the engine reports for monitoring (Prometheus in production)."""

from __future__ import annotations

from typing import Protocol


class Metrics(Protocol):
    def llm_call(self, outcome: str, code: str | None, seconds: float) -> None:
        """One LLM call ended: outcome is "success" or a failure kind."""
        ...

    def message_finished(self, status: str, *, from_cache: bool = False) -> None:
        """A message left PROCESSING for *status* (done, retry, error)."""
        ...

    def notification(self, kind: str, *, sent: bool) -> None: ...

    def set_concurrency(self, limit: float, in_flight: int) -> None: ...

    def set_gate(self, state: str) -> None: ...

    def set_storage_up(self, up: bool) -> None: ...

    def set_messages(self, by_status: dict[str, int]) -> None:
        """How many stored messages are in each status (the backlog is pending + retry)."""
        ...
