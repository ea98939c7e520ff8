"""The kinds of LLM failure and what each one does to a message and the service."""

from __future__ import annotations

import enum
from datetime import datetime

import attrs

from channel_parser.domain.status import MessageStatus
from channel_parser.domain.time import require_aware
from channel_parser.domain.usage import NO_USAGE, LLMUsage


class FailureKind(enum.StrEnum):
    """How an LLM call failed, decided by the LLM adapter from the provider's reply."""

    QUOTA_EXHAUSTED = "quota_exhausted"
    CONCURRENCY_LIMITED = "concurrency_limited"
    RATE_LIMITED = "rate_limited"
    TRANSIENT = "transient"
    REJECTED = "rejected"
    MISCONFIGURED = "misconfigured"
    # Anything else that went wrong while handling a claimed message (a bug, a reply no
    # other kind covers): retried with the backoff, and after INTERNAL_ERROR_LIMIT in a
    # row the message goes to ERROR for a person to look at (see give_up).
    INTERNAL = "internal"


class NotificationKind(enum.StrEnum):
    """What the admins are told about; each kind has its own throttle."""

    QUOTA_EXHAUSTED = "quota_exhausted"
    RATE_LIMITED = "rate_limited"  # concurrency (1302) and rate limits share one text
    QUOTA_RESTORED = "quota_restored"
    MISCONFIGURED = "misconfigured"
    STORAGE_OUTAGE = "storage_outage"
    CHANNEL_UNAVAILABLE = "channel_unavailable"  # a configured channel cannot be read
    CHANNEL_AVAILABLE = "channel_available"  # ... and can again
    TELEGRAM_FLOOD_WAIT = "telegram_flood_wait"  # Telegram holds a call for a long time


class GateAction(enum.StrEnum):
    """What a failure does to the service-wide gate in front of the LLM."""

    NONE = "none"
    CLOSE_QUOTA = "close_quota"
    CLOSE_MISCONFIGURED = "close_misconfigured"


@attrs.frozen
class FailureEffect:
    """The consequences of one failure kind, as SPEC.md and DESIGN.md define them."""

    message_status: MessageStatus
    gate: GateAction
    notify: NotificationKind | None
    concurrency_signal: bool  # tells the adaptive limiter to back off


EFFECTS: dict[FailureKind, FailureEffect] = {
    FailureKind.QUOTA_EXHAUSTED: FailureEffect(
        MessageStatus.ERROR, GateAction.CLOSE_QUOTA, NotificationKind.QUOTA_EXHAUSTED, False
    ),
    FailureKind.CONCURRENCY_LIMITED: FailureEffect(
        MessageStatus.RETRY, GateAction.NONE, NotificationKind.RATE_LIMITED, True
    ),
    FailureKind.RATE_LIMITED: FailureEffect(
        MessageStatus.RETRY, GateAction.NONE, NotificationKind.RATE_LIMITED, True
    ),
    FailureKind.TRANSIENT: FailureEffect(MessageStatus.RETRY, GateAction.NONE, None, False),
    FailureKind.REJECTED: FailureEffect(MessageStatus.ERROR, GateAction.NONE, None, False),
    FailureKind.INTERNAL: FailureEffect(MessageStatus.RETRY, GateAction.NONE, None, False),
    FailureKind.MISCONFIGURED: FailureEffect(
        MessageStatus.ERROR,
        GateAction.CLOSE_MISCONFIGURED,
        NotificationKind.MISCONFIGURED,
        False,
    ),
}

# How many internal errors in a row a message is retried through before it goes to ERROR.
DEFAULT_INTERNAL_ERROR_LIMIT = 3


def gives_up(kind: FailureKind, in_a_row: int, internal_limit: int) -> bool:
    """Whether a failure that would be retried stops the message instead: the
    *in_a_row*-th internal error in a row (this one included) once it reaches the limit,
    so that a failure no other kind covers cannot cost a paid call forever."""
    return kind is FailureKind.INTERNAL and in_a_row >= internal_limit


# Failures that stop a message only because the service could not call the LLM:
# such messages are requeued when the gate opens again.
GATE_FAILURES = frozenset({FailureKind.QUOTA_EXHAUSTED, FailureKind.MISCONFIGURED})


def _aware_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else require_aware(value, "retry_at")


@attrs.frozen
class LLMFailure:
    """A classified failure of one LLM call."""

    kind: FailureKind
    code: str | None = None  # the provider's code: "1302", "insufficient_quota", "500", ...
    message: str = ""
    retry_at: datetime | None = attrs.field(default=None, converter=_aware_or_none)
    # What the failed attempt consumed (a refused call still counts as a call). Not part of
    # the failure's identity: two failures of one kind and code are equal whatever it cost.
    usage: LLMUsage = attrs.field(default=NO_USAGE, eq=False)

    @property
    def effect(self) -> FailureEffect:
        return EFFECTS[self.kind]
