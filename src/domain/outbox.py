"""The durable outbox: what is to be delivered somewhere, kept until it is (ADR 0013).

An entry is one payload (JSON) for one destination of one topic (``admin``: a
notification for one admin chat). Entries of one queue (topic and destination) are
delivered in the order they were made, the oldest first, and the next only after it: an
entry waits while its queue's head waits. A delivery that fails for a while is tried
again later (the destination's own "retry after", however long, or the policy's growing
backoff); one that can never succeed (a chat that does not exist, a bot blocked by the
user) is given up, with the reason kept. Time is passed in.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta
from typing import Any

import attrs

from channel_parser.domain.backoff import BackoffPolicy
from channel_parser.domain.errors import InvalidTransition
from channel_parser.domain.time import require_aware


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # not delivered yet: tried at next_attempt_at (None: at once)
    DELIVERED = "delivered"
    FAILED = "failed"  # given up: the destination can never take it


def _aware(value: datetime) -> datetime:
    return require_aware(value, "time")


def _aware_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else require_aware(value, "time")


@attrs.define
class OutboxEntry:
    entry_id: str  # sorts in the order entries were made (the queue's order)
    topic: str
    destination: str
    payload: dict[str, Any]
    created_at: datetime = attrs.field(converter=_aware)
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0  # tries that did not deliver
    next_attempt_at: datetime | None = attrs.field(default=None, converter=_aware_or_none)
    last_error: str | None = None
    finished_at: datetime | None = attrs.field(default=None, converter=_aware_or_none)

    @property
    def queue(self) -> str:
        """Entries of one queue are delivered one after the other, in order."""
        return queue_of(self.topic, self.destination)

    def is_due(self, now: datetime) -> bool:
        return self.status is DeliveryStatus.PENDING and (
            self.next_attempt_at is None or self.next_attempt_at <= require_aware(now, "now")
        )

    def delivered(self, now: datetime) -> None:
        self._require_pending("delivered")
        self.status = DeliveryStatus.DELIVERED
        self.next_attempt_at = None
        self.finished_at = require_aware(now, "now")

    def retry_at(self, when: datetime, error: str) -> None:
        """Not delivered this time; try again at *when*."""
        self._require_pending("retried")
        self.attempts += 1
        self.next_attempt_at = require_aware(when, "when")
        self.last_error = error

    def give_up(self, error: str, now: datetime) -> None:
        """The destination can never take it: failed for good, the reason kept."""
        self._require_pending("given up")
        self.attempts += 1
        self.status = DeliveryStatus.FAILED
        self.next_attempt_at = None
        self.last_error = error
        self.finished_at = require_aware(now, "now")

    def _require_pending(self, what: str) -> None:
        if self.status is not DeliveryStatus.PENDING:
            raise InvalidTransition(f"outbox entry {self.entry_id} is {self.status}, not {what}")


MIN_WAIT = timedelta(seconds=1)


def queue_of(topic: str, destination: str) -> str:
    return f"{topic}:{destination}"


@attrs.frozen
class DeliveryPolicy:
    """When to try again: at the destination's own time when it names one (a Bot API 429's
    ``retry_after``, however long), else after ``backoff`` for the attempt (5 s, 10 s, …,
    at most 10 minutes): a destination that is down for days still gets it when it is back."""

    backoff: BackoffPolicy = attrs.field(
        factory=lambda: BackoffPolicy(
            base=timedelta(seconds=5), factor=2.0, cap=timedelta(minutes=10)
        )
    )

    def next_attempt(
        self, attempt: int, now: datetime, retry_after: timedelta | None = None
    ) -> datetime:
        """The time of the try after failed try number *attempt* (1-based)."""
        now = require_aware(now, "now")
        if retry_after is not None:  # never sooner than a second: no tight loop on a 0
            return now + max(retry_after, MIN_WAIT)
        return self.backoff.retry_at(attempt, now)


def heads(entries: list[OutboxEntry]) -> dict[str, OutboxEntry]:
    """The head of each queue among pending *entries*: its oldest entry (by entry_id)."""
    found: dict[str, OutboxEntry] = {}
    for entry in entries:
        if entry.status is not DeliveryStatus.PENDING:
            continue
        held = found.get(entry.queue)
        if held is None or entry.entry_id < held.entry_id:
            found[entry.queue] = entry
    return found
