"""SPEC.md's rule: processed only when due, the quota is open and the channel available."""

from __future__ import annotations

from datetime import timedelta

import pytest

from channel_parser.domain.eligibility import Eligibility, eligibility
from channel_parser.domain.failures import FailureKind, LLMFailure
from channel_parser.domain.gate import QuotaGate
from channel_parser.domain.status import MessageStatus
from tests.unit.domain.support import T0, at, make_message

OPEN = QuotaGate()
CLOSED = QuotaGate().close(LLMFailure(FailureKind.QUOTA_EXHAUSTED), T0, timedelta(minutes=5))
MISCONFIGURED = QuotaGate().close(LLMFailure(FailureKind.MISCONFIGURED), T0, timedelta(0))


def test_pending_with_open_gate_and_channel_is_eligible() -> None:
    assert eligibility(make_message(), T0, OPEN, True) is Eligibility.ELIGIBLE


def test_retry_whose_time_has_passed_is_eligible() -> None:
    message = make_message(MessageStatus.RETRY, retry_count=1, retry_after=at(30))
    assert eligibility(message, at(30), OPEN, True) is Eligibility.ELIGIBLE
    assert eligibility(message, at(31), OPEN, True) is Eligibility.ELIGIBLE


def test_retry_not_yet_due() -> None:
    message = make_message(MessageStatus.RETRY, retry_count=1, retry_after=at(30))
    assert eligibility(message, at(29), OPEN, True) is Eligibility.NOT_DUE


@pytest.mark.parametrize(
    "status", [MessageStatus.PROCESSING, MessageStatus.DONE, MessageStatus.ERROR]
)
def test_messages_not_waiting(status: MessageStatus) -> None:
    assert eligibility(make_message(status), T0, OPEN, True) is Eligibility.NOT_WAITING


@pytest.mark.parametrize("gate", [CLOSED, MISCONFIGURED])
def test_closed_gate(gate: QuotaGate) -> None:
    assert eligibility(make_message(), T0, gate, True) is Eligibility.GATE_CLOSED


def test_channel_unavailable() -> None:
    assert eligibility(make_message(), T0, OPEN, False) is Eligibility.CHANNEL_UNAVAILABLE


def test_first_failing_condition_is_reported() -> None:
    not_due = make_message(MessageStatus.RETRY, retry_count=1, retry_after=at(30))
    assert eligibility(not_due, T0, CLOSED, False) is Eligibility.NOT_DUE
    assert eligibility(make_message(), T0, CLOSED, False) is Eligibility.GATE_CLOSED
    assert eligibility(make_message(MessageStatus.DONE), T0, CLOSED, False) is (
        Eligibility.NOT_WAITING
    )
