"""The message state machine's rules, stated once as data.

``IncomingMessage`` applies them to itself; a store that must stay atomic translates
them into its own queries and updates (ADR 0010) instead of writing a second copy:
which statuses are due and when, which status holds a lease, in which statuses an edit
may change the text, and the fields each transition changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import attrs

from channel_parser.domain.status import MessageStatus

# IncomingMessage field name -> its new value; None clears the field.
Changes = Mapping[str, object]

# The one status that holds a lease: in flight, owned by one worker until lease_until.
LEASED = MessageStatus.PROCESSING

# An edit of the post may change the stored text only before parsing has begun or
# finished well (an ERROR message waits for a requeue, which will parse the new text).
EDITABLE: frozenset[MessageStatus] = frozenset(
    {MessageStatus.PENDING, MessageStatus.RETRY, MessageStatus.ERROR}
)


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
    """Back to PENDING as if new: retry_count removed (SPEC.md's FAQ), error and result too."""
    return {
        "status": MessageStatus.PENDING,
        "retry_count": 0,
        "retry_after": None,
        "last_error": None,
        "result": None,
        "done_at": None,
        "from_cache": False,
        **released_changes(now),
    }


def edit_changes(text: str, now: datetime) -> Changes:
    """An edited text taken (only in an EDITABLE status, and only when it differs)."""
    return {"text": text, "updated_at": now}
