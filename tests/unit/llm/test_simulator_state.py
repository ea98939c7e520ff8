"""The simulator's bookkeeping, without a server: limits, balance, faults, counters."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from channel_parser.simulator.config import (
    FaultSpec,
    Latency,
    LimitSchedule,
    SimulatorConfig,
    zai_status,
)
from channel_parser.simulator.replies import post_text
from channel_parser.simulator.state import SimulatorState


def test_requests_per_minute_slide_with_the_window() -> None:
    state = SimulatorState(SimulatorConfig(rpm=2))
    assert state.admit_rate(0.0) and state.admit_rate(10.0)
    assert not state.admit_rate(59.0)
    assert state.admit_rate(60.5)  # the first one has left the window


def test_the_concurrency_limit_and_the_peak() -> None:
    state = SimulatorState(SimulatorConfig(concurrency_limit=2))
    state.enter()
    assert not state.over_concurrency()
    state.enter()
    assert state.over_concurrency()
    state.leave()
    state.leave()
    assert (state.in_flight, state.stats().peak_in_flight) == (0, 2)


def test_a_call_balance_and_a_token_balance() -> None:
    calls = SimulatorState(SimulatorConfig(balance=1))
    calls.charge(500)
    assert not calls.balance_left()
    assert calls.top_up(3) == 3 and calls.balance_left()
    tokens = SimulatorState(SimulatorConfig(balance=100, balance_unit="tokens"))
    tokens.charge(60)
    assert tokens.balance == 40
    tokens.charge(60)
    assert tokens.balance == 0 and not tokens.balance_left()
    assert SimulatorState(SimulatorConfig()).top_up(5) is None  # unlimited


def test_queued_faults_come_first_then_triggers() -> None:
    state = SimulatorState(SimulatorConfig())
    state.script([FaultSpec("1302"), FaultSpec("hang")])
    state.trigger("BOOM", FaultSpec("1301"), times=2)
    taken = [state.take_fault("BOOM") for _ in range(5)]
    assert [f.kind if f else None for f in taken] == ["1302", "hang", "1301", "1301", None]
    assert state.take_fault("calm") is None


def test_reset_keeps_balance_and_faults() -> None:
    state = SimulatorState(SimulatorConfig(balance=5))
    state.total_calls = 3
    state.rejections["1302"] += 1
    state.script([FaultSpec("500")])
    state.reset_stats()
    stats = state.stats()
    assert (stats.total_calls, stats.rejections, stats.balance) == (0, {}, 5)
    assert state.take_fault("x") == FaultSpec("500")


def test_zai_statuses() -> None:
    assert [
        zai_status(c) for c in ("1002", "1113", "1211", "1234", "1261", "1301", "1302", "1312")
    ] == [401, 429, 400, 500, 400, 400, 429, 429]


def test_the_post_is_read_from_the_first_user_message() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": "Parse.\n<post>\nhello\n</post>\nNote"},
            {"role": "user", "content": "again"},
        ]
    }
    assert post_text(body) == "hello"
    assert post_text({"messages": [{"role": "user", "content": "raw"}]}) == "raw"
    assert post_text({}) == ""


def test_a_limit_schedule_moves_the_hidden_limit_from_the_first_call() -> None:
    schedule = LimitSchedule.parse("8,4@15,12@30")
    assert schedule == LimitSchedule(8, ((15.0, 4), (30.0, 12)))
    state = SimulatorState(SimulatorConfig(concurrency_limit=99, limit_schedule=schedule))
    assert state.concurrency_limit(50.0) == 8  # no call yet: the schedule has not started
    state.called(100.0)
    state.called(105.0)
    assert [state.concurrency_limit(100.0 + t) for t in (0, 14.9, 15, 29.9, 30, 1e6)] == [
        8,
        8,
        4,
        4,
        12,
        12,
    ]
    for _ in range(4):
        state.enter()
    assert state.over_concurrency(116.0) and not state.over_concurrency(110.0)
    state.answered(112.5)
    assert state.stats().first_to_last_success == 12.5
    state.reset_stats()  # the schedule starts again at the next call
    assert state.stats().first_to_last_success is None
    state.called(200.0)
    assert state.concurrency_limit(210.0) == 8
    assert SimulatorState(SimulatorConfig(concurrency_limit=3)).concurrency_limit(1e9) == 3


def test_the_limit_integrated_over_a_window() -> None:
    schedule = LimitSchedule.parse("8,4@15,12@30")
    assert schedule.limit_seconds(0, 40) == 8 * 15 + 4 * 15 + 12 * 10
    assert schedule.limit_seconds(20, 25) == 4 * 5
    assert LimitSchedule(6).limit_seconds(0, 10) == 60


@pytest.mark.parametrize("text", ["", "x", "8,4", "8,4@-1", "8,4@20,5@10", "0", "8,0@5"])
def test_a_malformed_limit_schedule_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        LimitSchedule.parse(text)


def test_lognormal_latency_keeps_its_mean_and_its_spread() -> None:
    rng = random.Random(1)
    for sigma in (0.25, 0.8):
        latency = Latency(200, distribution="lognormal", sigma=sigma)
        samples = [latency.sample(rng) for _ in range(40_000)]
        assert statistics.fmean(samples) == pytest.approx(0.2, rel=0.03)
        spread = statistics.stdev(math.log(s) for s in samples)
        assert spread == pytest.approx(sigma, rel=0.03)
