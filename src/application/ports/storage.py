"""Ports for what is stored: the messages, the channels and the shared service state.

Every method may raise ``application.errors.StorageError`` (or its subclass
``StorageUnavailable``); no driver exception crosses these ports.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Callable, Collection
from datetime import datetime, timedelta
from typing import Any, Protocol

import attrs

from channel_parser.domain.concurrency import ConcurrencyLimit, LearnedLimit
from channel_parser.domain.failures import FailureKind, NotificationKind
from channel_parser.domain.gate import QuotaGate
from channel_parser.domain.message import IncomingMessage, MessageKey
from channel_parser.domain.status import MessageStatus
from channel_parser.domain.throttle import Decide


@attrs.frozen
class NewPost:
    """A post as a source delivers it, before it is stored."""

    channel_id: int
    message_id: int
    text: str
    posted_at: datetime | None = None

    def to_message(self, now: datetime) -> IncomingMessage:
        """The message this post becomes when first stored, received *now*."""
        return IncomingMessage(
            channel_id=self.channel_id,
            message_id=self.message_id,
            text=self.text,
            received_at=now,
            posted_at=self.posted_at,
            updated_at=now,
        )


class IngestOutcome(enum.StrEnum):
    STORED = "stored"  # a new document
    UPDATED = "updated"  # an edit of a post not yet parsed
    UNCHANGED = "unchanged"  # already there (or parsed already: edits after parsing are kept out)
    SKIPPED = "skipped"  # no text to parse (blank): not stored, never sent to the LLM


@attrs.frozen
class MessageStats:
    """What ``status`` shows and SPEC.md's monitoring queries compute."""

    by_status: dict[MessageStatus, int]
    retry_histogram: dict[int, int]  # retry_count -> number of messages in RETRY
    errors_by_kind: dict[str, int]
    next_retry_at: datetime | None  # the earliest retry_after among RETRY messages
    from_cache: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


class MessageRepository(Protocol):
    async def add(self, post: NewPost, now: datetime) -> IngestOutcome:
        """Store a post idempotently: the same (channel, id) twice is one message;
        a changed text of a message not yet parsed replaces the stored text."""
        ...

    async def get(self, key: MessageKey) -> IncomingMessage | None: ...

    async def claim_next(
        self,
        owner: str,
        now: datetime,
        lease: timedelta,
        exclude_channels: Collection[int] = (),
    ) -> IncomingMessage | None:
        """Atomically claim one due message (PENDING, or RETRY with retry_after <= now),
        oldest first, outside *exclude_channels*; None when nothing is due."""
        ...

    async def save(self, message: IncomingMessage, owner: str) -> bool:
        """Write the outcome of a transition made while *owner* held the lease.
        False (nothing written) when the lease was lost to someone else meanwhile."""
        ...

    async def renew_lease(self, key: MessageKey, owner: str, until: datetime) -> bool: ...

    async def recover_expired(self, now: datetime) -> int:
        """Make messages whose lease expired claimable again; returns how many."""
        ...

    async def requeue(
        self,
        now: datetime,
        statuses: Collection[MessageStatus] = (),
        kinds: Collection[FailureKind] = (),
    ) -> int:
        """Back to PENDING (retry_count removed) every message in one of *statuses* or
        whose last error is of one of *kinds*; never one being processed."""
        ...

    async def reset(self, key: MessageKey, now: datetime) -> bool:
        """Back to PENDING one message by hand (SPEC.md's FAQ)."""
        ...

    async def stats(self) -> MessageStats: ...

    async def next_retry_at(self) -> datetime | None:
        """The earliest retry_after of a message in RETRY, for the retry timer."""
        ...

    async def highest_message_id(self, channel_id: int) -> int | None:
        """For backfill: the highest stored post id of a channel."""
        ...

    def iter_messages(
        self, status: MessageStatus | None = None, batch_size: int = 500
    ) -> AsyncIterator[IncomingMessage]:
        """Stream messages (optionally of one status) without loading them all."""
        ...


class ParseCache(Protocol):
    """Results already parsed, by a fingerprint of (normalized text, prompt, schema)."""

    async def get(self, fingerprint: str) -> dict[str, Any] | None: ...

    async def put(self, fingerprint: str, result: dict[str, Any], now: datetime) -> None: ...


@attrs.frozen
class ChannelInfo:
    channel_id: int
    available: bool
    title: str | None = None
    reason: str | None = None
    checked_at: datetime | None = None


class ChannelRegistry(Protocol):
    async def set_availability(
        self,
        channel_id: int,
        available: bool,
        now: datetime,
        reason: str | None = None,
        title: str | None = None,
    ) -> bool:
        """Record whether a channel can be read; True when this changed what was stored."""
        ...

    async def unavailable(self) -> frozenset[int]: ...

    async def channels(self) -> list[ChannelInfo]: ...


@attrs.frozen
class SlotTaken:
    """The result of asking for a notification slot."""

    taken: bool
    suppressed_before: int  # when taken: how many of this kind were suppressed since the last


@attrs.frozen
class PermitView:
    """The shared concurrency limiter as one store operation left it."""

    learned: LearnedLimit | None  # the learned limit every worker shares (None: none yet)
    mine: frozenset[int]  # the permit slots the caller holds
    held: int  # live slots held by every worker together


# What a worker learned, applied by the store to the stored learned limit (None: none
# yet) and the number of live slots the *other* workers hold; returns the new one.
Learn = Callable[[LearnedLimit | None, int], LearnedLimit]


class ServiceState(Protocol):
    """State shared by every worker process: the gate, the throttle, the learned limit and
    the permits it sizes (domain.permits), and named leases (one Telegram listener per
    account)."""

    async def quota_gate(self) -> QuotaGate: ...

    async def set_quota_gate(self, gate: QuotaGate) -> None: ...

    async def take_notification_slot(
        self, kind: NotificationKind, now: datetime, decide: Decide
    ) -> SlotTaken:
        """Atomically: run the throttle's *decide* (for *kind* at *now*) on the stored slot
        of *kind*; when it sends, record that and return taken with the number suppressed
        since the last one sent; otherwise count one more suppressed. Exactly one of
        several racing processes gets the slot."""
        ...

    async def learned_limit(self) -> float | None:
        """The shared learned limit, for ``status`` and the next start."""
        ...

    async def take_permits(
        self, owner: str, want: int, limit: ConcurrencyLimit, now: datetime, lease: timedelta
    ) -> PermitView:
        """Atomically: renew until now + *lease* the slots *owner* holds, and give it up to
        *want* more free slots below the permits of *limit* with the stored learned limit
        (``limit.with_learned``). Racing workers never get one slot both."""
        ...

    async def return_permits(
        self, owner: str, numbers: Collection[int], now: datetime
    ) -> PermitView:
        """*owner*'s slots among *numbers* are free again."""
        ...

    async def learn_limit(self, owner: str, learn: Learn, now: datetime) -> PermitView:
        """Atomically replace the stored learned limit by ``learn(stored, held by others)``.
        On a store without transactions a racing update may win instead (then this one's
        lesson is lost, never the permits' exclusivity)."""
        ...

    async def acquire_lease(self, name: str, owner: str, now: datetime, ttl: timedelta) -> bool:
        """Take or renew the named lease; False when someone else holds it unexpired."""
        ...

    async def release_lease(self, name: str, owner: str) -> None: ...
