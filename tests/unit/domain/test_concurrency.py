"""ConcurrencyLimit: AIMD with a remembered ceiling that ages finds the provider's hidden
limit, and finds it again when the provider moves it. Time is passed in (``at``)."""

from __future__ import annotations

import functools
import math
from datetime import timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from channel_parser.domain.concurrency import ConcurrencyLimit, LearnedLimit
from channel_parser.domain.errors import NaiveDatetime
from tests.unit.domain.support import FAST, NAIVE, T0, at

LATENCY = 0.2  # seconds a call takes in the simulations


@attrs.define
class SimulatedRun:
    refusals: int
    calls: int
    permits_seen: list[int]
    final: ConcurrencyLimit
    trace: list[tuple[float, int]] = attrs.field(factory=list)  # (seconds, permits)

    def first_time(self, after: float, test: object) -> float | None:
        """Seconds from *after* until permits first pass *test*."""
        for seconds, permits in self.trace:
            if seconds >= after and test(permits):  # type: ignore[operator]
                return seconds - after
        return None


def hidden_limit(schedule: tuple[int | tuple[float, int], ...], seconds: float) -> int:
    """*schedule*: the first limit, then (from second, limit) changes."""
    first, *changes = schedule
    limit = int(first)  # type: ignore[arg-type]
    for since, value in changes:  # type: ignore[misc]
        if seconds >= since:
            limit = value
    return limit


@functools.cache
def simulate(
    schedule: tuple[int | tuple[float, int], ...] | int,
    start: float,
    calls: int = 10_000,
    seconds: float | None = None,
) -> SimulatedRun:
    """A closed-loop worker pool against a provider that refuses, at once, any call that
    would make more than its hidden limit (*schedule*: a number, or the first limit and
    then ``(second, limit)`` changes) run together; accepted calls finish in the order they
    started, a window of them every LATENCY seconds of simulated time. Deterministic: no
    randomness, no real clock."""
    plan = schedule if isinstance(schedule, tuple) else (schedule,)
    limiter = ConcurrencyLimit(limit=start)
    in_flight = refusals = started = 0
    now = 0.0
    permits_seen: list[int] = []
    trace: list[tuple[float, int]] = []
    while (started < calls) if seconds is None else (now < seconds):
        while in_flight < limiter.permits and (seconds is not None or started < calls):
            started += 1
            in_flight += 1
            if in_flight > hidden_limit(plan, now):
                refusals += 1
                limiter = limiter.on_refusal(in_flight, at(now))
                in_flight -= 1
        if in_flight:  # the oldest accepted call completes
            now += LATENCY / in_flight
            limiter = limiter.on_success(in_flight, at(now))
            in_flight -= 1
        permits_seen.append(limiter.permits)
        trace.append((now, limiter.permits))
    return SimulatedRun(refusals, started, permits_seen, limiter, trace)


@pytest.mark.parametrize(
    ("true_limit", "start", "calls"),
    [(8, 4, 10_000), (3, 1, 3_000), (20, 4, 3_000), (8, 30, 3_000)],
)
def test_settles_at_the_true_limit_with_rare_refusals(
    true_limit: int, start: float, calls: int
) -> None:
    run = simulate(true_limit, start, calls)
    assert run.calls == calls
    assert run.refusals / run.calls < 0.02
    steady = run.permits_seen[len(run.permits_seen) // 2 :]
    at_limit = sum(1 for permits in steady if permits == true_limit) / len(steady)
    assert at_limit >= 0.95
    # Dips are the multiplicative cut after a probe; peaks are the probe itself.
    assert min(steady) >= math.floor((true_limit + 1) * run.final.decrease)
    assert max(steady) <= true_limit + 1


def test_a_steady_limit_of_8_is_probed_rarely() -> None:
    run = simulate(8, 4, 20_000)
    assert run.refusals / run.calls <= 0.005  # the goal for a fixed limit


def test_l8_from_4_reaches_8_and_then_stays() -> None:
    run = simulate(8, 4, 10_000)
    first_eight = run.permits_seen.index(8)
    assert first_eight < 200  # additive increase: about one per window of calls
    assert run.final.ceiling == 9  # it learned where the provider starts refusing
    assert run.final.permits == 8


MOVING = (8, (15.0, 4), (30.0, 12))  # the provider's limit: 8, then 4 at 15 s, 12 at 30 s


def test_a_moving_limit_is_followed_down_at_once_and_up_within_seconds() -> None:
    run = simulate(MOVING, 4, seconds=60.0)
    down = run.first_time(15.0, lambda permits: permits <= 4)
    assert down is not None and down < 1.0  # a few refused calls, within a second
    up = run.first_time(30.0, lambda permits: permits >= 12)
    assert up is not None and up < 10.0  # the issue asks for "within about 30 s"
    # And then it stays there, probing rarely.
    late = [permits for seconds, permits in run.trace if seconds >= 45.0]
    assert sum(1 for permits in late if permits == 12) / len(late) >= 0.9
    assert max(late) <= 13
    assert run.refusals / run.calls <= 0.01
    # Each phase: how long the limit sat at the provider's, from the simulated trace.
    for since, until, limit in ((5.0, 15.0, 8), (17.0, 30.0, 4), (35.0, 60.0, 12)):
        phase = [p for seconds, p in run.trace if since <= seconds < until]
        assert sum(1 for p in phase if p == limit) / len(phase) >= 0.85, (since, limit)


def test_a_ceiling_that_does_not_age_misses_the_raised_limit() -> None:
    """Without the ageing (the policy before the issue): after the drop to 4, the limit
    crawled up past the old ceiling and never reached 12 in the 30 s."""

    def never_ages() -> ConcurrencyLimit:
        return ConcurrencyLimit(
            limit=4, window_half_life=1e12, time_half_life=timedelta(days=10_000)
        )

    limiter = never_ages().on_refusal(5, at(0))  # the drop left a ceiling at 5
    aged = ConcurrencyLimit(limit=4).on_refusal(5, at(0))
    windows = {"static": windows_to_probe(limiter), "ageing": windows_to_probe(aged)}
    probe_windows = ConcurrencyLimit().probe_windows
    assert windows["static"] >= 0.9 * probe_windows  # that many times slower
    assert windows["ageing"] <= 0.6 * windows["static"]  # the weight fades


def windows_to_probe(limit: ConcurrencyLimit, start: float = 0.0) -> int:
    """Windows of full use at the current permits until they grow by one."""
    permits, seconds, windows = limit.permits, start, 0
    while limit.permits == permits:
        for _ in range(permits):
            seconds += LATENCY / permits
            limit = limit.on_success(permits, at(seconds))
        windows += 1
    return windows


def test_after_the_provider_lowers_its_limit_its_return_is_probed_for_sooner() -> None:
    steady = ConcurrencyLimit(limit=8.5, ceiling=9, weight=0.2, weighed_at=T0)
    dropped = steady.on_refusal(8, at(1))  # refused below the ceiling that held: a drop
    assert (dropped.permits, dropped.restore, dropped.restore_until) == (7, 8, at(601))
    for in_flight, seconds in ((7, 1.1), (6, 1.2), (5, 1.3)):  # down to 4
        dropped = dropped.on_refusal(in_flight, at(seconds))
    assert (dropped.permits, dropped.ceiling, dropped.restore) == (4, 5, 8)
    assert dropped.restore_until == at(601.3)  # each drop remembers it ten minutes more
    assert dropped.restoring(at(2)) and not dropped.restoring(at(601.3))
    # A probe refusal at the ceiling is no drop: it keeps what is to be restored.
    probed = dropped.on_refusal(5, at(2))
    assert (probed.restore, probed.restore_until) == (8, at(601.3))
    unremembered = attrs.evolve(probed, restore=None, restore_until=None)
    assert windows_to_probe(probed, 2) * 2 <= windows_to_probe(unremembered, 2)
    # A probe at the ceiling is not a drop; nor is a refusal with no ceiling known yet.
    assert ConcurrencyLimit(limit=8, ceiling=9, weighed_at=T0).on_refusal(9, T0).restore is None
    assert ConcurrencyLimit(limit=8).on_refusal(8, T0).restore is None


def test_the_level_to_restore_is_dropped_once_reached() -> None:
    restoring = ConcurrencyLimit(limit=7.9, ceiling=10, restore=8, restore_until=at(600))
    back = restoring.on_success(7, T0)
    assert back.permits == 8 and (back.restore, back.restore_until) == (None, None)


def test_defaults() -> None:
    limit = ConcurrencyLimit()
    assert limit.permits == 4
    assert (limit.min_limit, limit.max_limit, limit.ceiling) == (1, 64, None)
    assert limit.ceiling_weight(T0) == 0.0


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
        {"window_half_life": 0.0},
        {"time_half_life": timedelta(0)},
        {"weight": 1.5},
    ],
)
def test_invalid_configuration_is_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ConcurrencyLimit(**kwargs)  # type: ignore[arg-type]


def test_no_growth_below_full_use() -> None:
    limit = ConcurrencyLimit(limit=6)
    for in_flight in range(1, 6):
        assert limit.on_success(in_flight, T0) is limit


def test_growth_at_full_use_is_one_per_window_below_a_ceiling_two_without() -> None:
    def successes_to_grow(limit: ConcurrencyLimit) -> int:
        successes = 0
        while limit.permits == 4:
            limit = limit.on_success(limit.permits, T0)
            successes += 1
        assert limit.permits == 5
        return successes

    assert successes_to_grow(ConcurrencyLimit(limit=4, ceiling=20, weighed_at=T0)) == 5
    assert successes_to_grow(ConcurrencyLimit(limit=4)) == 3  # half a window per step


def test_growth_next_to_a_fresh_ceiling_is_slow() -> None:
    limit = ConcurrencyLimit(limit=9).on_refusal(9, T0)
    assert (limit.permits, limit.ceiling, limit.ceiling_weight(T0)) == (8, 9, 1.0)
    grown = limit.on_success(8, T0)
    # The first success right after the refusal: a fiftieth of the normal step.
    assert grown.limit - limit.limit == pytest.approx(1 / 8 / limit.probe_windows)


def test_the_ceiling_weight_halves_with_time() -> None:
    limit = ConcurrencyLimit(limit=9, time_half_life=timedelta(minutes=2)).on_refusal(9, T0)
    assert limit.ceiling_weight(at(120)) == pytest.approx(0.5)
    assert limit.ceiling_weight(at(240)) == pytest.approx(0.25)
    assert limit.ceiling_weight(at(-5)) == 1.0  # a clock step back does not add weight
    with pytest.raises(NaiveDatetime):
        limit.ceiling_weight(NAIVE)


def test_the_ceiling_weight_halves_with_windows_of_full_use() -> None:
    limit = ConcurrencyLimit(limit=9, window_half_life=8).on_refusal(9, T0)
    for _ in range(8 * limit.permits):  # eight windows of full use, at one instant
        limit = limit.on_success(limit.permits, T0)
    assert limit.ceiling_weight(T0) == pytest.approx(0.5)
    assert limit.ceiling == 9


def test_growth_next_to_an_aged_ceiling_is_back_to_normal_speed() -> None:
    fresh = ConcurrencyLimit(limit=8.5, ceiling=9, weight=1.0, weighed_at=T0)
    step = fresh.on_success(8, at(3600)).limit - fresh.limit  # an hour without a refusal
    assert step == pytest.approx(1 / 8.5, rel=0.01)


def test_growth_far_below_the_ceiling_is_normal_speed() -> None:
    limit = ConcurrencyLimit(limit=4, ceiling=20, weight=1.0, weighed_at=T0)
    grown = limit.on_success(4, T0)
    assert grown.limit == pytest.approx(4.25)


def test_a_ceiling_reached_for_a_whole_window_is_forgotten() -> None:
    limit = ConcurrencyLimit(limit=5, ceiling=5, weight=1.0, weighed_at=T0)
    for _ in range(4):  # calls counted in flight here may already have left the provider
        limit = limit.on_success(5, at(1))
        assert limit.ceiling == 5
    assert limit.at_ceiling == 4
    grown = limit.on_success(5, at(1))  # five ran together, five times: the provider moved
    assert (grown.ceiling, grown.ceiling_weight(at(1)), grown.at_ceiling) == (None, 0.0, 0)
    # Full speed again: the provider's new limit is unknown, so it grows as at the start.
    assert grown.limit - limit.limit == pytest.approx(limit.free_steps / limit.limit)


def test_late_refusals_from_one_burst_cut_once() -> None:
    probing = ConcurrencyLimit(limit=9.05, ceiling=9, weight=0.1, weighed_at=T0)
    cut = probing.on_refusal(9, at(1))
    assert (cut.permits, cut.ceiling) == (8, 9)
    # Calls started before the cut come back refused too: nine were in flight for them.
    later = cut.on_refusal(9, at(1.01)).on_refusal(9, at(1.02))
    assert (later.limit, later.ceiling, later.weighed_at) == (cut.limit, 9, at(1.02))
    # A refusal with no more calls than the permits is news: it cuts again.
    assert cut.on_refusal(8, at(2)).permits == 7


def test_a_refusal_makes_the_ceiling_fresh_again() -> None:
    aged = ConcurrencyLimit(limit=8.9, ceiling=9, weight=0.01, weighed_at=T0)
    refused = aged.on_refusal(9, at(60))
    assert (refused.ceiling, refused.ceiling_weight(at(60)), refused.weighed_at) == (9, 1.0, at(60))
    with pytest.raises(NaiveDatetime):
        aged.on_refusal(9, NAIVE)


def test_what_is_learned_travels_without_the_bounds() -> None:
    learned = ConcurrencyLimit(limit=9).on_refusal(9, T0).learned
    assert learned == LearnedLimit(8.0, 9, 1.0, T0)
    here = ConcurrencyLimit(limit=3, max_limit=6).with_learned(learned)
    assert (here.permits, here.max_limit, here.ceiling, here.weighed_at) == (6, 6, 9, T0)
    assert ConcurrencyLimit(limit=3).with_learned(None) == ConcurrencyLimit(limit=3)


def test_never_grows_past_max() -> None:
    limit = ConcurrencyLimit(limit=7.9, max_limit=8)
    for _ in range(1000):
        limit = limit.on_success(limit.permits, T0)
    assert limit.permits == 8
    assert limit.limit == 8.0


def test_never_drops_below_min() -> None:
    limit = ConcurrencyLimit(limit=3, min_limit=2)
    for in_flight in (3, 2, 1, 1):
        limit = limit.on_refusal(in_flight, T0)
    assert limit.permits == 2
    assert limit.limit >= 2.0


def test_refusal_records_the_level_as_ceiling() -> None:
    assert ConcurrencyLimit(limit=10).on_refusal(10, T0).ceiling == 10
    assert ConcurrencyLimit(limit=10).on_refusal(1, T0).ceiling == 2  # at least min_limit + 1


def test_is_immutable() -> None:
    limit = ConcurrencyLimit(limit=5)
    limit.on_success(5, T0)
    limit.on_refusal(5, T0)
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
    after = before.on_refusal(in_flight, T0)
    assert after.permits <= max(before.min_limit, before.permits - 1)
    assert after.permits <= max(before.min_limit, in_flight - 1)


@given(
    limit=st.floats(min_value=1.0, max_value=64.0),
    in_flight=st.integers(min_value=1, max_value=200),
)
@FAST
def test_refusal_never_raises_the_limit(limit: float, in_flight: int) -> None:
    # A late refusal (from a call started before an earlier cut) leaves the limit as it
    # is; any refusal never raises it and always ends below its own level.
    before = ConcurrencyLimit(limit=limit)
    after = before.on_refusal(in_flight, T0)
    assert after.limit <= before.limit
    if in_flight <= before.permits:
        assert after.limit < before.limit or after.limit == before.min_limit
    assert after.permits <= max(before.min_limit, in_flight - 1)


@given(
    events=st.lists(
        st.tuples(st.booleans(), st.integers(min_value=1, max_value=100), st.floats(0, 600)),
        max_size=80,
    ),
    bounds=st.tuples(st.integers(1, 10), st.integers(0, 40)),
)
@FAST
def test_permits_stay_within_bounds_and_the_weight_within_0_and_1(
    events: list[tuple[bool, int, float]], bounds: tuple[int, int]
) -> None:
    low, extra = bounds
    limit = ConcurrencyLimit(limit=low + extra / 2, min_limit=low, max_limit=low + extra)
    seconds = 0.0
    for ok, in_flight, gap in events:
        seconds += gap
        now = at(seconds)
        limit = limit.on_success(in_flight, now) if ok else limit.on_refusal(in_flight, now)
        assert low <= limit.permits <= low + extra
        assert low <= limit.limit <= low + extra
        assert 0.0 <= limit.ceiling_weight(now) <= 1.0
        assert (limit.ceiling is None) == (limit.weighed_at is None)
