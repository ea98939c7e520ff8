"""Where parsed results are delivered: routes, each a topic of the outbox with a sender of
its own (a webhook, a Telegram chat), taking the results its condition matches."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

RESULT_TOPIC_PREFIX = "result:"  # a route's topic: "result:<route name>"


class ResultRoute(Protocol):
    @property
    def topic(self) -> str:
        """The outbox topic of the route (its sender is registered under it)."""
        ...

    def payload(self, record: Mapping[str, Any]) -> dict[str, Any] | None:
        """What to deliver for the result *record* (``application.records.record``), or
        None when the route's condition does not match it. Never raises for a record."""
        ...
