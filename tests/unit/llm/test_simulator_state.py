"""The simulator's bookkeeping, without a server: limits, balance, faults, counters."""

from __future__ import annotations

from channel_parser.simulator.config import FaultSpec, SimulatorConfig, zai_status
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
