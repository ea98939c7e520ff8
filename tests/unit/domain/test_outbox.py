"""The outbox entry's life (pending -> delivered / failed) and the delivery policy."""

from __future__ import annotations

from datetime import timedelta

import pytest

from channel_parser.domain.errors import InvalidTransition, NaiveDatetime
from channel_parser.domain.outbox import (
    DeliveryPolicy,
    DeliveryStatus,
    OutboxEntry,
    heads,
    queue_of,
)
from tests.unit.domain.support import NAIVE, T0, at


def entry(entry_id: str = "e1", destination: str = "111") -> OutboxEntry:
    return OutboxEntry(entry_id, "admin", destination, {"text": "hi"}, T0)


def test_a_new_entry_is_due_at_once() -> None:
    e = entry()
    assert e.status is DeliveryStatus.PENDING and e.is_due(T0) and e.attempts == 0
    assert e.queue == queue_of("admin", "111") == "admin:111"


def test_retry_waits_for_its_time_and_counts_the_try() -> None:
    e = entry()
    e.retry_at(at(134), "retry after 134")
    assert not e.is_due(at(133)) and e.is_due(at(134))
    assert (e.attempts, e.last_error) == (1, "retry after 134")


def test_delivered_and_given_up_are_final() -> None:
    done, lost = entry("a"), entry("b")
    done.delivered(at(1))
    lost.give_up("Forbidden: bot was blocked by the user", at(2))
    assert (done.status, done.finished_at, done.next_attempt_at) == (
        DeliveryStatus.DELIVERED,
        at(1),
        None,
    )
    assert (lost.status, lost.attempts, lost.finished_at) == (DeliveryStatus.FAILED, 1, at(2))
    assert not done.is_due(at(9)) and not lost.is_due(at(9))
    for final in (done, lost):
        with pytest.raises(InvalidTransition):
            final.delivered(at(3))
        with pytest.raises(InvalidTransition):
            final.retry_at(at(4), "again")
        with pytest.raises(InvalidTransition):
            final.give_up("again", at(4))


def test_times_must_be_aware() -> None:
    with pytest.raises(NaiveDatetime):
        OutboxEntry("e", "admin", "1", {}, NAIVE)
    with pytest.raises(NaiveDatetime):
        entry().retry_at(NAIVE, "x")


def test_the_destinations_own_wait_wins_however_long() -> None:
    policy = DeliveryPolicy()
    assert policy.next_attempt(1, T0, timedelta(seconds=134)) == at(134)
    assert policy.next_attempt(9, T0, timedelta(hours=18)) == T0 + timedelta(hours=18)
    assert policy.next_attempt(1, T0, timedelta(0)) == at(1)  # never a tight loop


def test_without_a_named_wait_the_backoff_doubles_up_to_ten_minutes() -> None:
    policy = DeliveryPolicy()
    delays = [(policy.next_attempt(n, T0) - T0).total_seconds() for n in range(1, 10)]
    assert delays == [5, 10, 20, 40, 80, 160, 320, 600, 600]


def test_heads_are_the_oldest_pending_entry_per_queue() -> None:
    a1, a2, b1 = entry("a1", "1"), entry("a2", "1"), entry("b1", "2")
    done = entry("a0", "1")
    done.delivered(at(1))
    found = heads([a2, b1, done, a1])
    assert {q: e.entry_id for q, e in found.items()} == {"admin:1": "a1", "admin:2": "b1"}
