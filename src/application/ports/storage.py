"""Ports for what is stored: the messages, the channels and the shared service state.

Every method may raise ``application.errors.StorageError`` (or its subclass
``StorageUnavailable``); no driver exception crosses these ports.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

import attrs

from channel_parser.domain.concurrency import ConcurrencyLimit, LearnedLimit
from channel_parser.domain.failures import FailureKind, NotificationKind
from channel_parser.domain.gate import QuotaGate
from channel_parser.domain.message import IncomingMessage, MessageKey
from channel_parser.domain.message_rules import EDITS_IN_PLACE, EditRule
from channel_parser.domain.status import MessageStatus
from channel_parser.domain.throttle import Decide
from channel_parser.domain.time import require_aware
from channel_parser.domain.usage import LLMUsage


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
    REQUEUED = "requeued"  # an edit of a parsed post, queued to be parsed again
    UNCHANGED = "unchanged"  # already there (or an edit the rule keeps out)
    SKIPPED = "skipped"  # no text to parse (blank): not stored, never sent to the LLM


def _aware_opt(value: datetime | None) -> datetime | None:
    return None if value is None else require_aware(value)


def _ids(values: Iterable[int]) -> frozenset[int]:
    return frozenset(values)


@attrs.frozen
class MessageFilter:
    """Which messages a query selects; every part left empty selects all."""

    status: MessageStatus | None = None
    channels: frozenset[int] = attrs.field(default=frozenset(), converter=_ids)
    posted_from: datetime | None = attrs.field(default=None, converter=_aware_opt)  # inclusive
    posted_until: datetime | None = attrs.field(default=None, converter=_aware_opt)  # exclusive

    def matches(self, message: IncomingMessage) -> bool:
        """The filter as Python (the in-memory store; the others translate it)."""
        if self.status is not None and message.status is not self.status:
            return False
        if self.channels and message.channel_id not in self.channels:
            return False
        posted = message.posted_at
        if self.posted_from is not None and (posted is None or posted < self.posted_from):
            return False
        return self.posted_until is None or (posted is not None and posted < self.posted_until)


@attrs.frozen(eq=False)
class StaleResults:
    """Parsed results made under another fingerprint (model, prompt and schema) than the
    profile of their channel now has: what ``requeue --schema-changed`` parses again. A
    result that recorded no fingerprint counts as stale."""

    fingerprint: str  # the default profile's: every channel not in *by_channel*
    by_channel: Mapping[int, str] = attrs.field(factory=dict)  # channel -> its profile's

    def fingerprint_of(self, channel_id: int) -> str:
        return self.by_channel.get(channel_id, self.fingerprint)

    def matches(self, message: IncomingMessage) -> bool:
        return message.status is MessageStatus.DONE and (
            message.parser_fingerprint != self.fingerprint_of(message.channel_id)
        )


def requeue_selects(
    message: IncomingMessage,
    statuses: Collection[MessageStatus] = (),
    kinds: Collection[FailureKind] = (),
    where: MessageFilter | None = None,
    stale: StaleResults | None = None,
) -> bool:
    """What ``MessageRepository.requeue`` selects, as Python (the in-memory store checks
    it; SQLite checks each row it reads by it; MongoDB translates it)."""
    by_kind = message.last_error is not None and message.last_error.kind in kinds
    chosen = message.status in statuses or by_kind or (stale is not None and stale.matches(message))
    within = where is None or attrs.evolve(where, status=None).matches(message)
    return chosen and within and message.status is not MessageStatus.PROCESSING


@attrs.frozen
class MessageStats:
    """What ``status`` shows and SPEC.md's monitoring queries compute."""

    by_status: dict[MessageStatus, int]
    retry_histogram: dict[int, int]  # retry_count -> number of messages in RETRY
    errors_by_kind: dict[str, int]
    next_retry_at: datetime | None  # the earliest retry_after among RETRY messages
    from_cache: int = 0
    unreadable: int = 0  # documents whose status cannot be read (edited by hand): skipped
    oldest_pending_since: datetime | None = None  # the earliest updated_at of a PENDING one

    def oldest_due_seconds(self, now: datetime) -> float:
        """How long the message waiting longest to be claimed has been claimable: a
        PENDING one since it became so, a RETRY one since its retry_after (0: none)."""
        since = [
            moment
            for moment in (self.oldest_pending_since, self.next_retry_at)
            if moment is not None and moment <= now
        ]
        return max(((now - moment).total_seconds() for moment in since), default=0.0)

    @property
    def total(self) -> int:
        return sum(self.by_status.values()) + self.unreadable


class MessageRepository(Protocol):
    async def add(
        self, post: NewPost, now: datetime, edits: EditRule = EDITS_IN_PLACE
    ) -> IngestOutcome:
        """Store a post idempotently: the same (channel, id) twice is one message; a
        changed text is taken as *edits* says for the stored status (in place: UPDATED;
        queued again: REQUEUED), else kept out (UNCHANGED)."""
        ...

    async def add_many(
        self, posts: Sequence[NewPost], now: datetime, edits: EditRule = EDITS_IN_PLACE
    ) -> list[IngestOutcome]:
        """``add`` for each post, in order, in one go (an import stores batches of them);
        the outcomes in the posts' order."""
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
        False (nothing written) when the lease was lost to someone else meanwhile. True
        without writing when the stored state already is this outcome: a save retried
        after the reply to the first try was lost in an outage finds itself saved."""
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
        *,
        where: MessageFilter | None = None,
        stale: StaleResults | None = None,
    ) -> int:
        """Back to PENDING (retry_count removed) every message in one of *statuses*, whose
        last error is of one of *kinds*, or (*stale*) parsed under another fingerprint than
        its channel's; within *where*'s channels and post times (its status is ignored);
        never one being processed (``requeue_selects``)."""
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

    def iter_matching(
        self, where: MessageFilter, batch_size: int = 500
    ) -> AsyncIterator[IncomingMessage]:
        """Stream the messages *where* selects in key order (channel id, message id),
        *batch_size* at a time: memory does not grow with their number."""
        ...

    def iter_parsed_since(
        self, since: datetime, where: MessageFilter | None = None, batch_size: int = 500
    ) -> AsyncIterator[IncomingMessage]:
        """Stream the DONE messages parsed at or after *since* (``done_at``), in the order
        they were parsed (done_at, then key), within *where*'s channels and post times
        (its status is ignored; None: all): what a follower polls for."""
        ...


class ParseCache(Protocol):
    """Results already parsed, by a fingerprint of (normalized text, prompt, schema)."""

    async def get(self, fingerprint: str) -> dict[str, Any] | None: ...

    async def put(self, fingerprint: str, result: dict[str, Any], now: datetime) -> None: ...


class ChannelMode(enum.StrEnum):
    """How a channel is read."""

    LIVE = "live"  # the account is a member: Telegram pushes new posts; backfilled now and then
    POLLING = "polling"  # a public channel the account has not joined: read on a timer


@attrs.frozen
class ChannelInfo:
    channel_id: int
    available: bool
    title: str | None = None
    reason: str | None = None
    checked_at: datetime | None = None
    username: str | None = None  # a public channel's @name (without the @), when known
    mode: ChannelMode | None = None  # None: not read yet
    read_up_to: int | None = None  # the highest message id read (with text or not)
    last_read_at: datetime | None = None


class ChannelRegistry(Protocol):
    async def set_availability(
        self,
        channel_id: int,
        available: bool,
        now: datetime,
        reason: str | None = None,
        title: str | None = None,
        username: str | None = None,
    ) -> bool:
        """Record whether a channel can be read (and its title and username, when given;
        None keeps what is stored); True when the availability changed."""
        ...

    async def unavailable(self) -> frozenset[int]: ...

    async def channels(self) -> list[ChannelInfo]: ...

    async def channel(self, channel_id: int) -> ChannelInfo | None: ...

    async def record_read(
        self, channel_id: int, mode: ChannelMode, now: datetime, read_up_to: int | None = None
    ) -> None:
        """The channel was read *now*, in *mode*; its read cursor moves up to *read_up_to*
        (never down). A channel not recorded yet is recorded as available."""
        ...


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

    async def clear_notification_slot(self, kind: NotificationKind) -> None:
        """Forget when *kind* was last sent (and what was suppressed since): the next
        notification of it goes out at once (the quota's, after the balance came back)."""
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

    async def add_usage(self, at: datetime, usage: LLMUsage) -> None:
        """Add what LLM calls cost to the service's ledger, in the hour of *at*
        (domain.usage.usage_hour). Concurrent adds from many processes all count."""
        ...

    async def usage_since(self, since: datetime | None = None) -> LLMUsage:
        """The ledger's sum from the hour of *since* on (None: everything ever spent)."""
        ...
