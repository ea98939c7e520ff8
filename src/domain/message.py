"""The incoming message entity and its state machine.

PENDING ──claim──▶ PROCESSING ──succeed──▶ DONE
RETRY (due) ─claim─┘      │ ├─schedule_retry──▶ RETRY
                          │ └─fail────────────▶ ERROR
                          └─release / recover_stuck (lease expired)──▶ PENDING / RETRY
any state but PROCESSING ──requeue (by hand, or when the quota returns)──▶ PENDING
DONE ──edit_text under EDITS_REPARSED (the post was edited)──▶ PENDING, with the new text

The rules themselves (due, lease, editable, what each move changes) are data in
message_rules, which the stores translate (ADR 0010).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import attrs

from channel_parser.domain.backoff import BackoffPolicy
from channel_parser.domain.errors import InvalidTransition, LeaseLost
from channel_parser.domain.failures import (
    DEFAULT_INTERNAL_ERROR_LIMIT,
    FailureKind,
    LLMFailure,
    gives_up,
)
from channel_parser.domain.message_rules import (
    DUE,
    EDITS_IN_PLACE,
    LEASED,
    WAITING,
    Changes,
    EditRule,
    back_to_waiting_changes,
    claim_changes,
    edit_changes,
    edit_requeue_changes,
    released_changes,
    requeue_changes,
    tried_before,
)
from channel_parser.domain.status import MessageStatus
from channel_parser.domain.time import require_aware
from channel_parser.domain.usage import NO_USAGE, LLMUsage


@attrs.frozen(order=True)
class MessageKey:
    """The identity of a post: the channel's id and the post's id in it."""

    channel_id: int
    message_id: int

    def __str__(self) -> str:
        return f"{self.channel_id}/{self.message_id}"


@attrs.frozen
class ErrorInfo:
    """The last failure recorded on a message, and how many of its kind came in a row."""

    kind: FailureKind
    code: str | None
    message: str
    at: datetime
    repeats: int = 1  # failures of this kind in a row, this one included

    @classmethod
    def after(cls, previous: ErrorInfo | None, failure: LLMFailure, now: datetime) -> ErrorInfo:
        """The error recorded for *failure*, counting it onto *previous* when of its kind."""
        same = previous is not None and previous.kind is failure.kind
        repeats = previous.repeats + 1 if previous is not None and same else 1
        return cls(failure.kind, failure.code, failure.message, now, repeats)


@attrs.frozen
class RetryScheduled:
    """What schedule_retry decided: the attempt number, the delay and the due time."""

    attempt: int
    delay: timedelta
    retry_after: datetime


def _aware(value: datetime) -> datetime:
    return require_aware(value)


def _aware_opt(value: datetime | None) -> datetime | None:
    return None if value is None else require_aware(value)


@attrs.define
class IncomingMessage:
    """One stored post and where it stands in parsing."""

    channel_id: int
    message_id: int
    text: str
    received_at: datetime = attrs.field(converter=_aware)
    posted_at: datetime | None = attrs.field(default=None, converter=_aware_opt)
    status: MessageStatus = MessageStatus.PENDING
    retry_count: int = 0
    retry_after: datetime | None = attrs.field(default=None, converter=_aware_opt)
    lease_owner: str | None = None
    lease_until: datetime | None = attrs.field(default=None, converter=_aware_opt)
    last_error: ErrorInfo | None = None
    result: dict[str, Any] | None = None
    updated_at: datetime | None = attrs.field(default=None, converter=_aware_opt)
    done_at: datetime | None = attrs.field(default=None, converter=_aware_opt)
    from_cache: bool = False
    # What the current result cost: every call since parsing (re)started, repairs and
    # refused calls included; a requeue starts it again (message_rules.requeue_changes).
    usage: LLMUsage = NO_USAGE
    model: str | None = None  # the model that made the result
    parser_fingerprint: str | None = None  # model + prompt + schema it was made under
    profile: str | None = None  # the profile (prompt and schema) that made it
    spec_hash: str | None = None  # a short hash of that prompt and schema
    edited_at: datetime | None = attrs.field(default=None, converter=_aware_opt)

    @property
    def key(self) -> MessageKey:
        return MessageKey(self.channel_id, self.message_id)

    # -- queries -------------------------------------------------------------

    def is_due(self, now: datetime) -> bool:
        """Waiting, and its retry time (if any) has passed: the rule DUE."""
        return DUE.is_due(self.status, self.retry_after, require_aware(now, "now"))

    def lease_expired(self, now: datetime) -> bool:
        return (
            self.status is LEASED
            and self.lease_until is not None
            and self.lease_until <= require_aware(now, "now")
        )

    def leased_by(self, owner: str) -> bool:
        """Whether *owner* holds the lease (the condition of every write by a worker)."""
        return self.status is LEASED and self.lease_owner == owner

    # -- transitions ---------------------------------------------------------

    def claim(self, owner: str, now: datetime, lease: timedelta) -> None:
        """Take the message for parsing, holding a lease until now + lease."""
        now = require_aware(now, "now")
        if self.status not in WAITING:
            raise InvalidTransition(f"cannot claim {self.key}: it is {self.status}")
        if not self.is_due(now):
            raise InvalidTransition(f"cannot claim {self.key}: not due until {self.retry_after}")
        if lease <= timedelta(0):
            raise ValueError("lease must be positive")
        self._apply(claim_changes(owner, now, lease))

    def spend(self, owner: str, usage: LLMUsage) -> None:
        """Add what one attempt's calls cost, while *owner* holds the lease."""
        self._require_lease(owner, "record the usage of")
        self.usage = self.usage + usage

    def succeed(
        self,
        owner: str,
        result: dict[str, Any],
        now: datetime,
        *,
        from_cache: bool = False,
        model: str | None = None,
        parser_fingerprint: str | None = None,
        profile: str | None = None,
        spec_hash: str | None = None,
    ) -> None:
        """Record the parse result (and what made it): PROCESSING → DONE."""
        self._require_lease(owner, "complete")
        now = require_aware(now, "now")
        self.status = MessageStatus.DONE
        self.result = result
        self.from_cache = from_cache
        self.model = model
        self.parser_fingerprint = parser_fingerprint
        self.profile = profile
        self.spec_hash = spec_hash
        self.last_error = None
        self.retry_after = None
        self.done_at = now
        self._release(now)

    def schedule_retry(
        self,
        owner: str,
        failure: LLMFailure,
        policy: BackoffPolicy,
        now: datetime,
        u: float | None = None,
    ) -> RetryScheduled:
        """PROCESSING → RETRY, counting the attempt and setting retry_after by the policy."""
        self._require_lease(owner, "schedule a retry of")
        now = require_aware(now, "now")
        # Compute first: the policy may refuse its input, and then nothing must change.
        attempt = self.retry_count + 1
        retry_after = policy.retry_at(attempt, now, failure.retry_at, u)
        self.retry_count = attempt
        self.status = MessageStatus.RETRY
        self.retry_after = retry_after
        self.last_error = ErrorInfo.after(self.last_error, failure, now)
        self._release(now)
        return RetryScheduled(self.retry_count, retry_after - now, retry_after)

    def fail(self, owner: str, failure: LLMFailure, now: datetime) -> None:
        """PROCESSING → ERROR; the message waits for a requeue."""
        self._require_lease(owner, "fail")
        now = require_aware(now, "now")
        self.status = MessageStatus.ERROR
        self.retry_after = None
        self.last_error = ErrorInfo.after(self.last_error, failure, now)
        self._release(now)

    def apply_failure(
        self,
        owner: str,
        failure: LLMFailure,
        policy: BackoffPolicy,
        now: datetime,
        u: float | None = None,
        internal_limit: int = DEFAULT_INTERNAL_ERROR_LIMIT,
    ) -> RetryScheduled | None:
        """Move the message as the failure's kind says: RETRY (returns the schedule) or
        ERROR; an internal error goes to ERROR once it is the *internal_limit*-th in a row."""
        in_a_row = ErrorInfo.after(self.last_error, failure, now).repeats
        retried = failure.effect.message_status is MessageStatus.RETRY
        if retried and not gives_up(failure.kind, in_a_row, internal_limit):
            return self.schedule_retry(owner, failure, policy, now, u)
        self.fail(owner, failure, now)
        return None

    def requeue(self, now: datetime) -> None:
        """Back to PENDING by hand or after the gate reopens; clears retry_count (SPEC FAQ)."""
        now = require_aware(now, "now")
        if self.status is LEASED:
            raise InvalidTransition(f"cannot requeue {self.key}: it is being processed")
        self._apply(requeue_changes(now))

    def recover_stuck(self, now: datetime) -> None:
        """A worker died holding the message: make it claimable again, now."""
        now = require_aware(now, "now")
        if not self.lease_expired(now):
            raise InvalidTransition(f"cannot recover {self.key}: its lease has not expired")
        self._back_to_waiting(now)

    def release(self, owner: str, now: datetime) -> None:
        """Give the message back unparsed (shutdown): no attempt is counted."""
        self._require_lease(owner, "release")
        self._back_to_waiting(require_aware(now, "now"))

    def edit_text(self, text: str, now: datetime, rule: EditRule = EDITS_IN_PLACE) -> bool:
        """Take an edited text as *rule* says for the current status: in place, or by
        queueing the post again; True when the text changed."""
        now = require_aware(now, "now")
        if not rule.takes(self.status) or text == self.text:
            return False
        if rule.requeues(self.status):
            self._apply(edit_requeue_changes(text, now))
        else:
            self._apply(edit_changes(text, now))
        return True

    # -- helpers -------------------------------------------------------------

    def _require_lease(self, owner: str, action: str) -> None:
        if self.status is not LEASED:
            raise InvalidTransition(f"cannot {action} {self.key}: it is {self.status}")
        if not self.leased_by(owner):
            raise LeaseLost(f"cannot {action} {self.key}: lease held by {self.lease_owner!r}")

    def _back_to_waiting(self, now: datetime) -> None:
        """Claimable again at once: PENDING before any retry, else RETRY due now."""
        self._apply(back_to_waiting_changes(tried_before(self.retry_count), now))

    def _release(self, now: datetime) -> None:
        self._apply(released_changes(now))

    def _apply(self, changes: Changes) -> None:
        """Make the changes a rule of message_rules states (the same the stores apply)."""
        for name, value in changes.items():
            setattr(self, name, value)
