"""Per-kind minimum intervals between admin notifications."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

import attrs

from channel_parser.domain.failures import NotificationKind
from channel_parser.domain.time import require_aware

DEFAULT_INTERVALS: Mapping[NotificationKind, timedelta] = {
    NotificationKind.QUOTA_EXHAUSTED: timedelta(minutes=15),
    NotificationKind.RATE_LIMITED: timedelta(minutes=5),
    NotificationKind.QUOTA_RESTORED: timedelta(0),
    NotificationKind.MISCONFIGURED: timedelta(minutes=15),
    NotificationKind.STORAGE_OUTAGE: timedelta(minutes=15),
    # Each change of a channel is its own news (the registry tells a change from a repeat,
    # so a restart or a second look does not tell it again): not held back by time.
    NotificationKind.CHANNEL_UNAVAILABLE: timedelta(0),
    NotificationKind.CHANNEL_AVAILABLE: timedelta(0),
    # One flood wait is usually the account's for a whole method: several channels meet it.
    NotificationKind.TELEGRAM_FLOOD_WAIT: timedelta(hours=1),
}


@attrs.frozen
class ThrottleSlot:
    """The shared memory of one notification kind: when it was last sent, and
    how many notifications of the kind were suppressed since."""

    last_sent_at: datetime | None = None
    suppressed: int = 0


@attrs.frozen
class ThrottleDecision:
    send: bool
    suppressed_before: int  # suppressed since the last one sent; meaningful when send
    slot: ThrottleSlot  # the slot to store after this decision


# The decision for one kind at one time, waiting only for the stored slot: what a store
# runs where it reads and writes the slot atomically (ADR 0010).
Decide = Callable[[ThrottleSlot], ThrottleDecision]


@attrs.frozen
class NotificationThrottle:
    """Decides, purely from (kind, now, slot), whether a notification may go out."""

    intervals: Mapping[NotificationKind, timedelta] = attrs.field(
        factory=lambda: dict(DEFAULT_INTERVALS)
    )

    def interval(self, kind: NotificationKind) -> timedelta:
        return self.intervals.get(kind, DEFAULT_INTERVALS[kind])

    def threshold(self, kind: NotificationKind, now: datetime) -> datetime:
        """A notification may go out when the last one was sent at or before this time."""
        return require_aware(now, "now") - self.interval(kind)

    def decide(
        self, kind: NotificationKind, now: datetime, slot: ThrottleSlot | None = None
    ) -> ThrottleDecision:
        now = require_aware(now, "now")
        slot = slot or ThrottleSlot()
        if slot.last_sent_at is None or slot.last_sent_at <= self.threshold(kind, now):
            return ThrottleDecision(True, slot.suppressed, ThrottleSlot(now, 0))
        return ThrottleDecision(
            False, slot.suppressed, ThrottleSlot(slot.last_sent_at, slot.suppressed + 1)
        )

    def decider(self, kind: NotificationKind, now: datetime) -> Decide:
        """``decide`` for *kind* at *now*, given the slot later (by the store holding it)."""
        now = require_aware(now, "now")

        def decide(slot: ThrottleSlot) -> ThrottleDecision:
            return self.decide(kind, now, slot)

        return decide
