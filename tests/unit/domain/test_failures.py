"""What each LLM failure kind does: SPEC.md's three kinds and DESIGN.md's others."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest

from channel_parser.domain.errors import NaiveDatetime
from channel_parser.domain.failures import (
    EFFECTS,
    GATE_FAILURES,
    FailureKind,
    GateAction,
    LLMFailure,
    NotificationKind,
    gives_up,
)
from channel_parser.domain.status import MessageStatus
from tests.unit.domain.support import NAIVE, T0


def test_every_kind_has_an_effect() -> None:
    assert set(EFFECTS) == set(FailureKind)


def test_quota_exhausted_stops_parsing_and_notifies() -> None:
    effect = LLMFailure(FailureKind.QUOTA_EXHAUSTED, "insufficient_quota").effect
    assert effect.message_status is MessageStatus.ERROR
    assert effect.gate is GateAction.CLOSE_QUOTA
    assert effect.notify is NotificationKind.QUOTA_EXHAUSTED
    assert effect.concurrency_signal is False


@pytest.mark.parametrize("kind", [FailureKind.CONCURRENCY_LIMITED, FailureKind.RATE_LIMITED])
def test_concurrency_and_rate_limits_retry_notify_and_signal(kind: FailureKind) -> None:
    effect = EFFECTS[kind]
    assert effect.message_status is MessageStatus.RETRY
    assert effect.gate is GateAction.NONE
    assert effect.notify is NotificationKind.RATE_LIMITED
    assert effect.concurrency_signal is True


def test_transient_retries_quietly() -> None:
    effect = EFFECTS[FailureKind.TRANSIENT]
    assert (effect.message_status, effect.gate, effect.notify) == (
        MessageStatus.RETRY,
        GateAction.NONE,
        None,
    )
    assert effect.concurrency_signal is False


def test_rejected_fails_only_that_message() -> None:
    effect = EFFECTS[FailureKind.REJECTED]
    assert (effect.message_status, effect.gate, effect.notify) == (
        MessageStatus.ERROR,
        GateAction.NONE,
        None,
    )


def test_misconfigured_closes_the_gate_and_notifies() -> None:
    effect = EFFECTS[FailureKind.MISCONFIGURED]
    assert effect.message_status is MessageStatus.ERROR
    assert effect.gate is GateAction.CLOSE_MISCONFIGURED
    assert effect.notify is NotificationKind.MISCONFIGURED


def test_gate_failures_are_exactly_those_that_close_the_gate() -> None:
    closing = {kind for kind, effect in EFFECTS.items() if effect.gate is not GateAction.NONE}
    assert closing == GATE_FAILURES == {FailureKind.QUOTA_EXHAUSTED, FailureKind.MISCONFIGURED}


def test_kinds_are_stored_as_lowercase_strings() -> None:
    assert {str(kind) for kind in FailureKind} == {
        "quota_exhausted",
        "concurrency_limited",
        "rate_limited",
        "transient",
        "rejected",
        "misconfigured",
        "internal",
    }


def test_an_internal_error_retries_quietly_until_the_limit() -> None:
    effect = EFFECTS[FailureKind.INTERNAL]
    assert (effect.message_status, effect.gate, effect.notify) == (
        MessageStatus.RETRY,
        GateAction.NONE,
        None,
    )
    assert effect.concurrency_signal is False
    assert [gives_up(FailureKind.INTERNAL, n, 3) for n in (1, 2, 3, 4)] == [
        False,
        False,
        True,
        True,
    ]
    assert not any(
        gives_up(kind, 99, 3) for kind in FailureKind if kind is not FailureKind.INTERNAL
    )


def test_failure_retry_at_must_be_aware_and_becomes_utc() -> None:
    with pytest.raises(NaiveDatetime):
        LLMFailure(FailureKind.RATE_LIMITED, retry_at=NAIVE)
    local = T0.astimezone(timezone(timedelta(hours=-5)))
    failure = LLMFailure(FailureKind.RATE_LIMITED, retry_at=local)
    assert failure.retry_at == T0
    assert failure.retry_at is not None and failure.retry_at.utcoffset() == timedelta(0)


def test_failure_defaults() -> None:
    failure = LLMFailure(FailureKind.TRANSIENT)
    assert (failure.code, failure.message, failure.retry_at) == (None, "", None)
