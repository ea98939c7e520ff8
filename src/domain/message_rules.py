"""The message state machine's rules, stated once as data.

``IncomingMessage`` applies them to itself; a store that must stay atomic translates
them into its own queries and updates (ADR 0010) instead of writing a second copy:
which statuses are due and when, which status holds a lease, in which statuses an edit
may change the text (and in which it queues the post again), and the fields each
transition changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import attrs

from channel_parser.domain.status import MessageStatus
from channel_parser.domain.usage import NO_USAGE

# IncomingMessage field name -> its new value; None clears the field.
Changes = Mapping[str, object]

# The one status that holds a lease: in flight, owned by one worker until lease_until.
LEASED = MessageStatus.PROCESSING

# An edit of the post changes the stored text in place before parsing has begun or
# finished well (an ERROR message waits for a requeue, which will parse the new text).
EDITABLE: frozenset[MessageStatus] = frozenset(
    {MessageStatus.PENDING, MessageStatus.RETRY, MessageStatus.ERROR}
)


@attrs.frozen
class EditRule:
    """Which statuses take an edited text: *in_place* keeps the status (parsing has not
    finished well yet); *requeued* queues the post again as if new, its result cleared
    until the new text is parsed (REPARSE_EDITS). PROCESSING is in neither: an edit that
    arrives while the post's call runs is not taken."""

    in_place: frozenset[MessageStatus]
    requeued: frozenset[MessageStatus] = frozenset()

    def __attrs_post_init__(self) -> None:
        if self.in_place & self.requeued or LEASED in self.in_place | self.requeued:
            raise ValueError("an edit rule takes each status one way, never the leased one")

    def takes(self, status: MessageStatus) -> bool:
        return status in self.in_place or status in self.requeued

    def requeues(self, status: MessageStatus) -> bool:
        return status in self.requeued


# REPARSE_EDITS off: edits after a good parse are kept out (the first result stays).
EDITS_IN_PLACE = EditRule(in_place=EDITABLE)
# REPARSE_EDITS on (the default): an edit of a parsed post queues it to be parsed again.
EDITS_REPARSED = EditRule(in_place=EDITABLE, requeued=frozenset({MessageStatus.DONE}))


@attrs.frozen
class DueRule:
    """When a message may be claimed: at once in *at_once*; in *after_retry_time* once its
    ``retry_after`` is unset or has passed."""

    at_once: frozenset[MessageStatus]
    after_retry_time: frozenset[MessageStatus]

    @property
    def waiting(self) -> frozenset[MessageStatus]:
        """The statuses that wait to be (re)parsed: those that can become due."""
        return self.at_once | self.after_retry_time

    def is_due(self, status: MessageStatus, retry_after: datetime | None, now: datetime) -> bool:
        if status in self.at_once:
            return True
        if status in self.after_retry_time:
            return retry_after is None or retry_after <= now
        return False


# SPEC.md: PENDING (whatever retry_after a reset by hand left behind) is due at once,
# RETRY once its retry_after has passed.
DUE = DueRule(
    at_once=frozenset({MessageStatus.PENDING}),
    after_retry_time=frozenset({MessageStatus.RETRY}),
)
WAITING = DUE.waiting


def tried_before(retry_count: int) -> bool:
    """Whether an attempt was counted: decides where a message goes back to (below)."""
    return retry_count > 0


# -- what each transition changes ---------------------------------------------------


def claim_changes(owner: str, now: datetime, lease: timedelta) -> Changes:
    """A claim: the lease to *owner* until now + lease."""
    return {"status": LEASED, "lease_owner": owner, "lease_until": now + lease, "updated_at": now}


def released_changes(now: datetime) -> Changes:
    """The lease given up, whatever the transition that ends it."""
    return {"lease_owner": None, "lease_until": None, "updated_at": now}


def back_to_waiting_changes(tried: bool, now: datetime) -> Changes:
    """Out of an expired or released lease, claimable at once: RETRY due now when an
    attempt was counted (*tried*, see tried_before), else PENDING."""
    if tried:
        return {"status": MessageStatus.RETRY, "retry_after": now, **released_changes(now)}
    return {"status": MessageStatus.PENDING, "retry_after": None, **released_changes(now)}


def requeue_changes(now: datetime) -> Changes:
    """Back to PENDING as if new: retry_count removed (SPEC.md's FAQ), error and result too,
    and what the result cost (the next parse records its own; the service's usage ledger
    keeps what was spent)."""
    return {
        "status": MessageStatus.PENDING,
        "retry_count": 0,
        "retry_after": None,
        "last_error": None,
        "result": None,
        "done_at": None,
        "from_cache": False,
        "usage": NO_USAGE,
        "model": None,
        "parser_fingerprint": None,
        "profile": None,
        "spec_hash": None,
        **released_changes(now),
    }


def edit_changes(text: str, now: datetime) -> Changes:
    """An edited text taken in place (EditRule.in_place, and only when it differs)."""
    return {"text": text, "edited_at": now, "updated_at": now}


def edit_requeue_changes(text: str, now: datetime) -> Changes:
    """An edited text of a parsed post (EditRule.requeued): queued again as if new."""
    return {**requeue_changes(now), "text": text, "edited_at": now}
