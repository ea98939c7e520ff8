"""BackoffPolicy: SPEC.md's table by default, configurable, bounded, overflow-free."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channel_parser.domain.backoff import BackoffPolicy
from channel_parser.domain.errors import NaiveDatetime
from tests.unit.domain.support import FAST, NAIVE, T0, at

SPEC_TABLE = {1: 30, 2: 60, 3: 120, 4: 240, 5: 480, 6: 480, 7: 480, 8: 480, 9: 480, 10: 480}


@pytest.mark.parametrize(("attempt", "seconds"), sorted(SPEC_TABLE.items()))
def test_default_policy_reproduces_spec_table(attempt: int, seconds: int) -> None:
    assert BackoffPolicy().delay(attempt) == timedelta(seconds=seconds)


def test_defaults_are_spec_values() -> None:
    policy = BackoffPolicy()
    assert policy.base == timedelta(seconds=30)
    assert policy.factor == 2.0
    assert policy.cap == timedelta(seconds=480)
    assert policy.jitter == 0.0


ATTEMPTS = [*range(1, 300), 10**3, 10**6, 10**9]


def test_delay_never_exceeds_eight_minutes() -> None:
    # SPEC FAQ: "the delay never exceeds 480 s (8 minutes)".
    policy = BackoffPolicy()
    for attempt in ATTEMPTS:
        assert timedelta(seconds=30) <= policy.delay(attempt) <= timedelta(seconds=480)


def test_delay_is_monotonic_in_attempt() -> None:
    policy = BackoffPolicy(base=timedelta(seconds=1), factor=1.5, cap=timedelta(hours=1))
    delays = [policy.delay(attempt) for attempt in ATTEMPTS]
    assert delays == sorted(delays)
    assert delays[-1] == timedelta(hours=1)


@pytest.mark.parametrize("attempt", [11, 64, 1024, 10**6, 10**18, 2**200])
def test_huge_attempt_numbers_do_not_overflow(attempt: int) -> None:
    assert BackoffPolicy().delay(attempt) == timedelta(seconds=480)
    assert BackoffPolicy(factor=1e300).delay(attempt) == timedelta(seconds=480)


def test_configurable_base_factor_cap() -> None:
    policy = BackoffPolicy(base=timedelta(seconds=10), factor=3.0, cap=timedelta(seconds=500))
    assert [policy.delay(n).total_seconds() for n in range(1, 6)] == [10, 30, 90, 270, 500]


def test_factor_one_is_a_constant_delay() -> None:
    policy = BackoffPolicy(base=timedelta(seconds=5), factor=1.0)
    assert {policy.delay(n) for n in (1, 2, 50, 10**9)} == {timedelta(seconds=5)}


def test_base_above_cap_is_capped() -> None:
    policy = BackoffPolicy(base=timedelta(minutes=20), cap=timedelta(minutes=8))
    assert policy.delay(1) == timedelta(minutes=8)


def test_sub_second_base_keeps_its_precision() -> None:
    policy = BackoffPolicy(base=timedelta(milliseconds=250), cap=timedelta(seconds=1))
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [
        timedelta(milliseconds=250),
        timedelta(milliseconds=500),
        timedelta(seconds=1),
        timedelta(seconds=1),
    ]


def test_jitter_is_off_by_default_even_when_u_is_given() -> None:
    policy = BackoffPolicy()
    assert policy.delay(3, u=0.0) == timedelta(seconds=120)
    assert policy.delay(3, u=0.999) == timedelta(seconds=120)


def test_jitter_without_u_leaves_the_delay_exact() -> None:
    assert BackoffPolicy(jitter=0.5).delay(2) == timedelta(seconds=60)


def test_jitter_spans_the_band() -> None:
    policy = BackoffPolicy(jitter=0.25)
    assert policy.delay(2, u=0.0) == timedelta(seconds=45)
    assert policy.delay(2, u=0.5) == timedelta(seconds=60)
    assert policy.delay(2, u=0.75) == timedelta(seconds=67.5)


@given(
    attempt=st.integers(min_value=1, max_value=50),
    jitter=st.floats(min_value=0.0, max_value=1.0),
    u=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
)
@FAST
def test_jitter_is_bounded_and_never_exceeds_the_cap(attempt: int, jitter: float, u: float) -> None:
    policy = BackoffPolicy(jitter=jitter)
    exact = BackoffPolicy().delay(attempt).total_seconds()
    got = policy.delay(attempt, u=u).total_seconds()
    slack = 1e-6  # timedelta keeps microseconds
    assert exact * (1 - jitter) - slack <= got <= exact * (1 + jitter) + slack
    assert got <= 480
    assert got >= 0


@pytest.mark.parametrize("attempt", [0, -1, -(10**9)])
def test_attempt_below_one_is_rejected(attempt: int) -> None:
    with pytest.raises(ValueError, match="attempt"):
        BackoffPolicy().delay(attempt)


@pytest.mark.parametrize("u", [-0.1, 1.0, 1.5, float("nan")])
def test_u_outside_unit_interval_is_rejected_when_jitter_is_on(u: float) -> None:
    with pytest.raises(ValueError, match="u must be"):
        BackoffPolicy(jitter=0.1).delay(1, u=u)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base": timedelta(0)},
        {"base": timedelta(seconds=-1)},
        {"cap": timedelta(0)},
        {"cap": timedelta(seconds=-30)},
        {"factor": 0.5},
        {"factor": float("nan")},
        {"jitter": -0.1},
        {"jitter": 1.1},
        {"jitter": float("nan")},
    ],
)
def test_invalid_configuration_is_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        BackoffPolicy(**kwargs)  # type: ignore[arg-type]


def test_retry_at_is_now_plus_delay() -> None:
    assert BackoffPolicy().retry_at(3, T0) == at(120)


def test_provider_time_wins_when_later() -> None:
    assert BackoffPolicy().retry_at(1, T0, provider_retry_at=at(600)) == at(600)


@pytest.mark.parametrize("provider_offset", [-60, 0, 10, 30])
def test_provider_time_ignored_when_not_later(provider_offset: int) -> None:
    assert BackoffPolicy().retry_at(1, T0, provider_retry_at=at(provider_offset)) == at(30)


def test_retry_at_with_jitter_uses_u() -> None:
    assert BackoffPolicy(jitter=0.5).retry_at(1, T0, u=0.0) == at(15)


def test_retry_at_rejects_naive_now() -> None:
    with pytest.raises(NaiveDatetime):
        BackoffPolicy().retry_at(1, NAIVE)


def test_retry_at_rejects_naive_provider_time() -> None:
    with pytest.raises(NaiveDatetime):
        BackoffPolicy().retry_at(1, T0, provider_retry_at=NAIVE)


def test_retry_at_returns_utc_for_other_zones() -> None:
    moscow = timezone(timedelta(hours=3))
    got = BackoffPolicy().retry_at(1, T0.astimezone(moscow))
    assert got == at(30)
    assert got.utcoffset() == timedelta(0)
