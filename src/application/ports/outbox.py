"""The durable outbox's store (ADR 0013): entries kept until delivered or given up.

Like every storage port, each method may raise ``application.errors.StorageError``.
Only the process holding the delivery lease changes entries, so a plain write by id is
enough; the writes are still conditional on the entry being pending, so that a process
that lost the lease meanwhile cannot undo what the new holder did.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import attrs

from channel_parser.domain.outbox import OutboxEntry


@attrs.frozen
class TopicStats:
    """One topic's entries (``admin``; ``result:<route>`` for each delivery route)."""

    pending: int = 0
    delivered: int = 0
    failed: int = 0
    retrying: int = 0  # pending entries that failed at least once


@attrs.frozen
class OutboxStats:
    pending: int = 0
    delivered: int = 0  # since the last purge (kept for a week)
    failed: int = 0  # given up (kept for a week)
    oldest_pending_at: datetime | None = None  # when the oldest undelivered entry was made
    next_attempt_at: datetime | None = None  # the earliest retry time of an entry that waits
    last_failure: str | None = None  # "destination: error" of the latest entry given up
    retrying: int = 0  # pending entries that failed at least once
    by_topic: dict[str, TopicStats] = attrs.field(factory=dict)  # the same, per topic


class Outbox(Protocol):
    async def put(self, entries: Sequence[OutboxEntry]) -> None:
        """Keep new entries (their entry_id is unique and says their order)."""
        ...

    async def heads(self, limit: int = 100) -> list[OutboxEntry]:
        """The head of each queue (topic and destination): its oldest pending entry, due
        or not; at most *limit* queues."""
        ...

    async def save(self, entry: OutboxEntry) -> bool:
        """Write what a transition changed; False (nothing written) when the stored entry
        is no longer pending."""
        ...

    async def get(self, entry_id: str) -> OutboxEntry | None: ...

    async def stats(self) -> OutboxStats: ...

    async def purge(self, finished_before: datetime) -> int:
        """Forget delivered and failed entries finished before the time; returns how many."""
        ...
