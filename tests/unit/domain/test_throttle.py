"""NotificationThrottle: per-kind minimum intervals, counting what it suppressed."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channel_parser.domain.errors import NaiveDatetime
from channel_parser.domain.failures import NotificationKind
from channel_parser.domain.throttle import DEFAULT_INTERVALS, NotificationThrottle, ThrottleSlot
from tests.unit.domain.support import FAST, NAIVE, T0, at

RATE = NotificationKind.RATE_LIMITED
QUOTA = NotificationKind.QUOTA_EXHAUSTED


def test_spec_intervals() -> None:
    throttle = NotificationThrottle()
    assert throttle.interval(QUOTA) == timedelta(minutes=15)
    assert throttle.interval(RATE) == timedelta(minutes=5)
    assert set(DEFAULT_INTERVALS) == set(NotificationKind)


def test_first_send_is_allowed() -> None:
    decision = NotificationThrottle().decide(RATE, T0)
    assert decision.send is True
    assert decision.suppressed_before == 0
    assert decision.slot == ThrottleSlot(T0, 0)


def test_empty_slot_is_the_same_as_none() -> None:
    throttle = NotificationThrottle()
    assert throttle.decide(RATE, T0, ThrottleSlot()) == throttle.decide(RATE, T0)


def test_second_within_interval_is_suppressed_and_counted() -> None:
    throttle = NotificationThrottle()
    slot = throttle.decide(RATE, T0).slot
    second = throttle.decide(RATE, at(60), slot)
    assert second.send is False
    assert second.slot == ThrottleSlot(T0, 1)
    third = throttle.decide(RATE, at(299.999), second.slot)
    assert third.send is False
    assert third.slot == ThrottleSlot(T0, 2)


def test_after_the_interval_send_reports_and_resets_the_count() -> None:
    throttle = NotificationThrottle()
    slot = ThrottleSlot(T0, 0)
    for seconds in (10, 20, 30):
        slot = throttle.decide(RATE, at(seconds), slot).slot
    assert slot.suppressed == 3
    decision = throttle.decide(RATE, at(300), slot)  # exactly 5 minutes later
    assert decision.send is True
    assert decision.suppressed_before == 3
    assert decision.slot == ThrottleSlot(at(300), 0)


def test_quota_waits_fifteen_minutes() -> None:
    throttle = NotificationThrottle()
    slot = throttle.decide(QUOTA, T0).slot
    assert throttle.decide(QUOTA, at(14 * 60 + 59), slot).send is False
    assert throttle.decide(QUOTA, at(15 * 60), slot).send is True


def test_custom_intervals_override_and_fall_back_to_defaults() -> None:
    throttle = NotificationThrottle(intervals={RATE: timedelta(seconds=10)})
    assert throttle.interval(RATE) == timedelta(seconds=10)
    assert throttle.interval(QUOTA) == timedelta(minutes=15)
    slot = throttle.decide(RATE, T0).slot
    assert throttle.decide(RATE, at(9), slot).send is False
    assert throttle.decide(RATE, at(10), slot).send is True


def test_zero_interval_never_suppresses() -> None:
    throttle = NotificationThrottle()
    slot = throttle.decide(NotificationKind.QUOTA_RESTORED, T0).slot
    assert throttle.decide(NotificationKind.QUOTA_RESTORED, T0, slot).send is True


def test_threshold_is_now_minus_interval() -> None:
    assert NotificationThrottle().threshold(RATE, at(300)) == T0


def test_naive_now_is_refused() -> None:
    with pytest.raises(NaiveDatetime):
        NotificationThrottle().decide(RATE, NAIVE)
    with pytest.raises(NaiveDatetime):
        NotificationThrottle().decider(RATE, NAIVE)


def test_decider_is_decide_for_one_kind_and_time_given_the_slot_later() -> None:
    throttle = NotificationThrottle()
    decide = throttle.decider(RATE, at(100))
    for slot in (ThrottleSlot(), ThrottleSlot(T0, 2), ThrottleSlot(at(-300), 5)):
        assert decide(slot) == throttle.decide(RATE, at(100), slot)


def test_defaults_are_not_shared_between_throttles() -> None:
    first = NotificationThrottle()
    assert first.intervals is not NotificationThrottle().intervals
    assert first.intervals is not DEFAULT_INTERVALS


@given(
    gaps=st.lists(st.integers(min_value=0, max_value=900_000), min_size=1, max_size=40),
    interval_s=st.integers(min_value=1, max_value=1800),
)
@FAST
def test_sends_are_at_least_the_interval_apart(gaps: list[int], interval_s: int) -> None:
    interval = timedelta(seconds=interval_s)
    throttle = NotificationThrottle(intervals={RATE: interval})
    slot: ThrottleSlot | None = None
    now = T0
    sent: list[datetime] = []
    suppressed_total = 0
    reported_total = 0
    for gap_ms in gaps:
        now += timedelta(milliseconds=gap_ms)
        decision = throttle.decide(RATE, now, slot)
        # Sends exactly when the interval has passed since the last one sent.
        assert decision.send is (not sent or now - sent[-1] >= interval)
        if decision.send:
            sent.append(now)
            reported_total += decision.suppressed_before
        else:
            suppressed_total += 1
        slot = decision.slot
    assert sent and sent[0] == T0 + timedelta(milliseconds=gaps[0])
    assert all(later - earlier >= interval for earlier, later in itertools.pairwise(sent))
    # Nothing is lost: every suppressed event is either reported or still counted.
    assert slot is not None
    assert reported_total + slot.suppressed == suppressed_total
