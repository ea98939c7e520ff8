"""The outbox in memory (the unit tests' store), its rules the domain's own."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime

from channel_parser.application.ports.outbox import OutboxStats, TopicStats
from channel_parser.domain.outbox import DeliveryStatus, OutboxEntry, heads


class InMemoryOutbox:
    def __init__(self) -> None:
        self.entries: dict[str, OutboxEntry] = {}

    async def put(self, entries: Sequence[OutboxEntry]) -> None:
        for entry in entries:
            if entry.entry_id in self.entries:
                raise ValueError(f"duplicate outbox entry {entry.entry_id}")
        for entry in entries:
            self.entries[entry.entry_id] = copy.deepcopy(entry)

    async def heads(self, limit: int = 100) -> list[OutboxEntry]:
        found = sorted(heads(list(self.entries.values())).values(), key=lambda e: e.entry_id)
        return [copy.deepcopy(e) for e in found[:limit]]

    async def save(self, entry: OutboxEntry) -> bool:
        stored = self.entries.get(entry.entry_id)
        if stored is None or stored.status is not DeliveryStatus.PENDING:
            return False
        self.entries[entry.entry_id] = copy.deepcopy(entry)
        return True

    async def get(self, entry_id: str) -> OutboxEntry | None:
        found = self.entries.get(entry_id)
        return copy.deepcopy(found) if found is not None else None

    async def stats(self) -> OutboxStats:
        entries = list(self.entries.values())
        pending = [e for e in entries if e.status is DeliveryStatus.PENDING]
        failed = [e for e in entries if e.status is DeliveryStatus.FAILED]
        waits = [e.next_attempt_at for e in pending if e.next_attempt_at is not None]
        latest = max(failed, key=lambda e: (e.finished_at, e.entry_id), default=None)
        return OutboxStats(
            pending=len(pending),
            delivered=sum(1 for e in entries if e.status is DeliveryStatus.DELIVERED),
            failed=len(failed),
            oldest_pending_at=min((e.created_at for e in pending), default=None),
            next_attempt_at=min(waits, default=None),
            last_failure=None if latest is None else f"{latest.destination}: {latest.last_error}",
            retrying=sum(1 for e in pending if e.attempts > 0),
            by_topic={
                topic: TopicStats(
                    pending=sum(1 for e in pending if e.topic == topic),
                    delivered=sum(
                        1
                        for e in entries
                        if e.topic == topic and e.status is DeliveryStatus.DELIVERED
                    ),
                    failed=sum(1 for e in failed if e.topic == topic),
                    retrying=sum(1 for e in pending if e.topic == topic and e.attempts > 0),
                )
                for topic in sorted({e.topic for e in entries})
            },
        )

    async def purge(self, finished_before: datetime) -> int:
        old = [
            key
            for key, e in self.entries.items()
            if e.status is not DeliveryStatus.PENDING
            and e.finished_at is not None
            and e.finished_at < finished_before
        ]
        for key in old:
            del self.entries[key]
        return len(old)
