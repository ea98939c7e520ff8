"""In-memory implementations of the storage ports (the unit tests' store)."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import AsyncIterator, Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from channel_parser.application.ports.storage import (
    ChannelInfo,
    ChannelMode,
    IngestOutcome,
    Learn,
    MessageFilter,
    MessageStats,
    NewPost,
    PermitView,
    SlotTaken,
    StaleResults,
    requeue_selects,
)
from channel_parser.domain.concurrency import ConcurrencyLimit, LearnedLimit
from channel_parser.domain.errors import InvalidTransition
from channel_parser.domain.failures import FailureKind, NotificationKind
from channel_parser.domain.gate import QuotaGate
from channel_parser.domain.message import IncomingMessage, MessageKey
from channel_parser.domain.message_rules import EDITS_IN_PLACE, EditRule
from channel_parser.domain.permits import PermitTable
from channel_parser.domain.status import MessageStatus
from channel_parser.domain.throttle import Decide, ThrottleSlot
from channel_parser.domain.usage import NO_USAGE, LLMUsage, usage_hour


class InMemoryMessageRepository:
    """Every rule is the domain's own: its methods and queries decide, as in SQLite."""

    def __init__(self) -> None:
        self.messages: dict[MessageKey, IncomingMessage] = {}

    async def add(
        self, post: NewPost, now: datetime, edits: EditRule = EDITS_IN_PLACE
    ) -> IngestOutcome:
        key = MessageKey(post.channel_id, post.message_id)
        existing = self.messages.get(key)
        if existing is None:
            self.messages[key] = post.to_message(now)
            return IngestOutcome.STORED
        requeues = edits.requeues(existing.status)
        if existing.edit_text(post.text, now, edits):
            return IngestOutcome.REQUEUED if requeues else IngestOutcome.UPDATED
        return IngestOutcome.UNCHANGED

    async def add_many(
        self, posts: Sequence[NewPost], now: datetime, edits: EditRule = EDITS_IN_PLACE
    ) -> list[IngestOutcome]:
        return [await self.add(post, now, edits) for post in posts]

    async def get(self, key: MessageKey) -> IncomingMessage | None:
        found = self.messages.get(key)
        return copy.deepcopy(found) if found else None

    async def claim_next(
        self,
        owner: str,
        now: datetime,
        lease: timedelta,
        exclude_channels: Collection[int] = (),
    ) -> IncomingMessage | None:
        # The gate is the caller's to check before claiming (ClaimMessage).
        due = [
            m
            for m in self.messages.values()
            if m.is_due(now) and m.channel_id not in exclude_channels
        ]
        if not due:
            return None
        chosen = min(due, key=lambda m: (m.received_at, m.channel_id, m.message_id))
        chosen.claim(owner, now, lease)
        return copy.deepcopy(chosen)

    async def save(self, message: IncomingMessage, owner: str) -> bool:
        stored = self.messages.get(message.key)
        if stored is None:
            return False
        if not stored.leased_by(owner):  # saved already: the same state, whatever the text
            return attrs.evolve(stored, text=message.text) == message
        saved = copy.deepcopy(message)
        saved.text = stored.text  # an edit that arrived meanwhile is kept
        self.messages[message.key] = saved
        return True

    async def renew_lease(self, key: MessageKey, owner: str, until: datetime) -> bool:
        stored = self.messages.get(key)
        if stored is None or not stored.leased_by(owner):
            return False
        stored.lease_until = until
        return True

    async def recover_expired(self, now: datetime) -> int:
        stuck = [m for m in self.messages.values() if m.lease_expired(now)]
        for message in stuck:
            message.recover_stuck(now)
        return len(stuck)

    async def requeue(
        self,
        now: datetime,
        statuses: Collection[MessageStatus] = (),
        kinds: Collection[FailureKind] = (),
        *,
        where: MessageFilter | None = None,
        stale: StaleResults | None = None,
    ) -> int:
        count = 0
        for message in self.messages.values():
            chosen = requeue_selects(message, statuses, kinds, where, stale)
            if chosen and _requeued(message, now):
                count += 1
        return count

    async def reset(self, key: MessageKey, now: datetime) -> bool:
        message = self.messages.get(key)
        return message is not None and _requeued(message, now)

    async def stats(self) -> MessageStats:
        by_status = Counter(m.status for m in self.messages.values())
        histogram = Counter(
            m.retry_count for m in self.messages.values() if m.status is MessageStatus.RETRY
        )
        errors = Counter(
            str(m.last_error.kind)
            for m in self.messages.values()
            if m.status is MessageStatus.ERROR and m.last_error is not None
        )
        cached = sum(
            1 for m in self.messages.values() if m.status is MessageStatus.DONE and m.from_cache
        )
        return MessageStats(
            by_status={s: by_status.get(s, 0) for s in MessageStatus},
            retry_histogram=dict(sorted(histogram.items())),
            errors_by_kind=dict(sorted(errors.items())),
            next_retry_at=await self.next_retry_at(),
            from_cache=cached,
            oldest_pending_since=min(
                (
                    m.updated_at
                    for m in self.messages.values()
                    if m.status is MessageStatus.PENDING and m.updated_at is not None
                ),
                default=None,
            ),
        )

    async def next_retry_at(self) -> datetime | None:
        times = [
            m.retry_after
            for m in self.messages.values()
            if m.status is MessageStatus.RETRY and m.retry_after is not None
        ]
        return min(times, default=None)

    async def highest_message_id(self, channel_id: int) -> int | None:
        ids = [k.message_id for k in self.messages if k.channel_id == channel_id]
        return max(ids, default=None)

    async def iter_matching(
        self, where: MessageFilter, batch_size: int = 500
    ) -> AsyncIterator[IncomingMessage]:
        for key in sorted(self.messages):
            message = self.messages.get(key)
            if message is not None and where.matches(message):
                yield copy.deepcopy(message)

    async def iter_parsed_since(
        self, since: datetime, where: MessageFilter | None = None, batch_size: int = 500
    ) -> AsyncIterator[IncomingMessage]:
        within = MessageFilter(
            MessageStatus.DONE,
            *(() if where is None else (where.channels, where.posted_from, where.posted_until)),
        )
        parsed = [
            m
            for m in self.messages.values()
            if within.matches(m) and m.done_at is not None and m.done_at >= since
        ]
        for message in sorted(parsed, key=lambda m: (m.done_at, m.key)):
            yield copy.deepcopy(message)


def _requeued(message: IncomingMessage, now: datetime) -> bool:
    """The domain decides: a message being processed refuses a requeue."""
    try:
        message.requeue(now)
    except InvalidTransition:
        return False
    return True


class InMemoryParseCache:
    def __init__(self) -> None:
        self.results: dict[str, dict[str, Any]] = {}

    async def get(self, fingerprint: str) -> dict[str, Any] | None:
        found = self.results.get(fingerprint)
        return copy.deepcopy(found) if found is not None else None

    async def put(self, fingerprint: str, result: dict[str, Any], now: datetime) -> None:
        self.results[fingerprint] = copy.deepcopy(result)


class InMemoryChannelRegistry:
    def __init__(self) -> None:
        self.infos: dict[int, ChannelInfo] = {}

    async def set_availability(
        self,
        channel_id: int,
        available: bool,
        now: datetime,
        reason: str | None = None,
        title: str | None = None,
        username: str | None = None,
    ) -> bool:
        before = self.infos.get(channel_id)
        title = title if title is not None else (before.title if before else None)
        self.infos[channel_id] = attrs.evolve(
            before or ChannelInfo(channel_id, available),
            available=available,
            title=title,
            reason=None if available else reason,
            checked_at=now,
            username=username if username is not None else (before.username if before else None),
        )
        return before is None or before.available != available

    async def unavailable(self) -> frozenset[int]:
        return frozenset(c for c, info in self.infos.items() if not info.available)

    async def channels(self) -> list[ChannelInfo]:
        return [self.infos[c] for c in sorted(self.infos)]

    async def channel(self, channel_id: int) -> ChannelInfo | None:
        return self.infos.get(channel_id)

    async def record_read(
        self, channel_id: int, mode: ChannelMode, now: datetime, read_up_to: int | None = None
    ) -> None:
        before = self.infos.get(channel_id) or ChannelInfo(channel_id, True, checked_at=now)
        cursors = [c for c in (before.read_up_to, read_up_to) if c is not None]
        self.infos[channel_id] = attrs.evolve(
            before, mode=mode, last_read_at=now, read_up_to=max(cursors, default=None)
        )


class InMemoryServiceState:
    def __init__(self) -> None:
        self.gate = QuotaGate()
        self.slots: dict[NotificationKind, ThrottleSlot] = {}
        self.learned: LearnedLimit | None = None
        self.permits = PermitTable()
        self.leases: dict[str, tuple[str, datetime]] = {}
        self.usage: dict[datetime, LLMUsage] = {}  # hour -> what was spent in it

    async def quota_gate(self) -> QuotaGate:
        return self.gate

    async def set_quota_gate(self, gate: QuotaGate) -> None:
        self.gate = gate

    async def take_notification_slot(
        self, kind: NotificationKind, now: datetime, decide: Decide
    ) -> SlotTaken:
        decision = decide(self.slots.get(kind, ThrottleSlot()))
        self.slots[kind] = decision.slot
        return SlotTaken(decision.send, decision.suppressed_before if decision.send else 0)

    async def clear_notification_slot(self, kind: NotificationKind) -> None:
        self.slots.pop(kind, None)

    async def learned_limit(self) -> float | None:
        return None if self.learned is None else self.learned.limit

    async def take_permits(
        self, owner: str, want: int, limit: ConcurrencyLimit, now: datetime, lease: timedelta
    ) -> PermitView:
        permits = limit.with_learned(self.learned).permits
        self.permits, _ = self.permits.take(owner, want, permits, now, now + lease)
        return self._view(owner, now)

    async def return_permits(
        self, owner: str, numbers: Collection[int], now: datetime
    ) -> PermitView:
        self.permits = self.permits.give_back(owner, numbers)
        return self._view(owner, now)

    async def learn_limit(self, owner: str, learn: Learn, now: datetime) -> PermitView:
        self.learned = learn(self.learned, self.permits.held_by_others(owner, now))
        return self._view(owner, now)

    def _view(self, owner: str, now: datetime) -> PermitView:
        return PermitView(
            self.learned, self.permits.held_by(owner, now), len(self.permits.held(now))
        )

    async def acquire_lease(self, name: str, owner: str, now: datetime, ttl: timedelta) -> bool:
        held = self.leases.get(name)
        if held is not None and held[0] != owner and held[1] > now:
            return False
        self.leases[name] = (owner, now + ttl)
        return True

    async def release_lease(self, name: str, owner: str) -> None:
        held = self.leases.get(name)
        if held is not None and held[0] == owner:
            del self.leases[name]

    async def add_usage(self, at: datetime, usage: LLMUsage) -> None:
        hour = usage_hour(at)
        self.usage[hour] = self.usage.get(hour, NO_USAGE) + usage

    async def usage_since(self, since: datetime | None = None) -> LLMUsage:
        start = None if since is None else usage_hour(since)
        total = NO_USAGE
        for hour, usage in self.usage.items():
            if start is None or hour >= start:
                total += usage
        return total
