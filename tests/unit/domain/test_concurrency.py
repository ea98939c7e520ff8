"""ConcurrencyLimit: AIMD with a remembered ceiling finds the provider's hidden limit."""

from __future__ import annotations

import functools
import math

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from channel_parser.domain.concurrency import ConcurrencyLimit
from tests.unit.domain.support import FAST


@attrs.define
class SimulatedRun:
    refusals: int
    calls: int
    permits_seen: list[int]
    final: ConcurrencyLimit


@functools.cache
def simulate(true_limit: int, start: float, calls: int = 10_000) -> SimulatedRun:
    """A closed-loop worker pool against a provider that refuses, at once, any call
    that would make more than *true_limit* run together; accepted calls finish in
    the order they started. Deterministic: no randomness, no clock."""
    limiter = ConcurrencyLimit(limit=start)
    in_flight = refusals = started = 0
    permits_seen: list[int] = []
    while started < calls:
        while in_flight < limiter.permits and started < calls:
            started += 1
            in_flight += 1
            if in_flight > true_limit:
                refusals += 1
                limiter = limiter.on_refusal(in_flight)
                in_flight -= 1
        if in_flight:  # the oldest accepted call completes
            limiter = limiter.on_success(in_flight)
            in_flight -= 1
        permits_seen.append(limiter.permits)
    return SimulatedRun(refusals, started, permits_seen, limiter)


@pytest.mark.parametrize(
    ("true_limit", "start", "calls"),
    [(8, 4, 10_000), (3, 1, 3_000), (20, 4, 3_000), (8, 30, 3_000)],
)
def test_settles_at_the_true_limit_with_rare_refusals(
    true_limit: int, start: float, calls: int
) -> None:
    run = simulate(true_limit, start, calls)
    assert run.calls == calls
    assert run.refusals / run.calls < 0.01
    steady = run.permits_seen[len(run.permits_seen) // 2 :]
    at_limit = sum(1 for permits in steady if permits == true_limit) / len(steady)
    assert at_limit >= 0.95
    # Dips are the multiplicative cut after a probe; peaks are the probe itself.
    assert min(steady) >= math.floor((true_limit + 1) * run.final.decrease)
    assert max(steady) <= true_limit + 1


def test_l8_from_4_reaches_8_and_then_stays() -> None:
    run = simulate(8, 4, 10_000)
    first_eight = run.permits_seen.index(8)
    assert first_eight < 200  # additive increase: about one per window of calls
    assert run.final.ceiling == 9  # it learned where the provider starts refusing
    assert run.final.permits == 8


def test_defaults() -> None:
    limit = ConcurrencyLimit()
    assert limit.permits == 4
    assert (limit.min_limit, limit.max_limit, limit.ceiling) == (1, 64, None)


def test_initial_limit_is_clamped_to_the_bounds() -> None:
    assert ConcurrencyLimit(limit=0.2).permits == 1
    assert ConcurrencyLimit(limit=500, max_limit=16).permits == 16
    assert ConcurrencyLimit(limit=500, max_limit=16).limit == 16.0
    assert ConcurrencyLimit(limit=1, min_limit=3, max_limit=5).permits == 3


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_limit": 0},
        {"max_limit": 0},
        {"min_limit": 5, "max_limit": 4},
        {"decrease": 0.0},
        {"decrease": 1.0},
        {"probe_windows": 0},
    ],
)
def test_invalid_configuration_is_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ConcurrencyLimit(**kwargs)  # type: ignore[arg-type]


def test_no_growth_below_full_use() -> None:
    limit = ConcurrencyLimit(limit=6)
    for in_flight in range(1, 6):
        assert limit.on_success(in_flight) is limit


def test_growth_at_full_use_is_about_one_per_window() -> None:
    limit = ConcurrencyLimit(limit=4)
    successes = 0
    while limit.permits == 4:
        limit = limit.on_success(limit.permits)
        successes += 1
    assert limit.permits == 5
    assert 3 <= successes <= 5


def test_growth_near_the_remembered_ceiling_is_slow() -> None:
    limit = ConcurrencyLimit(limit=9).on_refusal(9)
    assert (limit.permits, limit.ceiling) == (8, 9)
    successes = 0
    while limit.permits == 8:
        limit = limit.on_success(limit.permits)
        successes += 1
    assert successes >= 8 * limit.probe_windows * 0.9  # ~one probe per 50 windows


def test_growth_far_below_the_ceiling_is_normal_speed() -> None:
    limit = ConcurrencyLimit(limit=4, ceiling=20)
    grown = limit.on_success(4)
    assert grown.limit == pytest.approx(4.25)


def test_never_grows_past_max() -> None:
    limit = ConcurrencyLimit(limit=7.9, max_limit=8)
    for _ in range(1000):
        limit = limit.on_success(limit.permits)
    assert limit.permits == 8
    assert limit.limit == 8.0


def test_never_drops_below_min() -> None:
    limit = ConcurrencyLimit(limit=3, min_limit=2)
    for in_flight in (3, 2, 1, 1):
        limit = limit.on_refusal(in_flight)
    assert limit.permits == 2
    assert limit.limit >= 2.0


def test_refusal_records_the_level_as_ceiling() -> None:
    assert ConcurrencyLimit(limit=10).on_refusal(10).ceiling == 10
    assert ConcurrencyLimit(limit=10).on_refusal(1).ceiling == 2  # at least min_limit + 1


def test_is_immutable() -> None:
    limit = ConcurrencyLimit(limit=5)
    limit.on_success(5)
    limit.on_refusal(5)
    assert limit == ConcurrencyLimit(limit=5)


@given(
    limit=st.floats(min_value=1.0, max_value=64.0),
    in_flight_share=st.floats(min_value=0.0, max_value=1.0),
)
@FAST
def test_refusal_at_or_below_permits_drops_at_least_one(
    limit: float, in_flight_share: float
) -> None:
    before = ConcurrencyLimit(limit=limit)
    in_flight = max(1, round(before.permits * in_flight_share))
    after = before.on_refusal(in_flight)
    assert after.permits <= max(before.min_limit, before.permits - 1)
    assert after.permits <= max(before.min_limit, in_flight - 1)


@given(
    limit=st.floats(min_value=1.0, max_value=64.0),
    in_flight=st.integers(min_value=1, max_value=200),
)
@FAST
def test_refusal_never_raises_the_limit(limit: float, in_flight: int) -> None:
    # A late refusal (from a call started before an earlier cut) may leave permits
    # as they are, but it never raises them and always ends below its own level.
    before = ConcurrencyLimit(limit=limit)
    after = before.on_refusal(in_flight)
    assert after.limit < before.limit or after.limit == before.min_limit
    assert after.permits <= max(before.min_limit, in_flight - 1)


@given(
    events=st.lists(st.tuples(st.booleans(), st.integers(min_value=1, max_value=100)), max_size=80),
    bounds=st.tuples(st.integers(1, 10), st.integers(0, 40)),
)
@FAST
def test_permits_stay_within_bounds(
    events: list[tuple[bool, int]], bounds: tuple[int, int]
) -> None:
    low, extra = bounds
    limit = ConcurrencyLimit(limit=low + extra / 2, min_limit=low, max_limit=low + extra)
    for ok, in_flight in events:
        limit = limit.on_success(in_flight) if ok else limit.on_refusal(in_flight)
        assert low <= limit.permits <= low + extra
        assert low <= limit.limit <= low + extra
