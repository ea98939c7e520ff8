"""QuotaGate: closes on quota and misconfiguration, keeps its first `since`, reopens."""

from __future__ import annotations

from datetime import timedelta

import pytest

from channel_parser.domain.errors import NaiveDatetime
from channel_parser.domain.failures import FailureKind, LLMFailure
from channel_parser.domain.gate import GateState, QuotaGate
from tests.unit.domain.support import NAIVE, T0, at

PROBE = timedelta(minutes=10)
QUOTA = LLMFailure(FailureKind.QUOTA_EXHAUSTED, "insufficient_quota", "balance is empty")
BAD_KEY = LLMFailure(FailureKind.MISCONFIGURED, "401", "invalid api key")


def test_new_gate_is_open() -> None:
    gate = QuotaGate()
    assert gate.is_open and gate.allows_claiming()
    assert gate.state is GateState.OPEN
    assert gate.since is None and gate.probe_at is None
    assert not gate.probe_due(at(10**6))


def test_quota_closes_with_a_probe_after_the_interval() -> None:
    gate = QuotaGate().close(QUOTA, T0, PROBE)
    assert gate.state is GateState.QUOTA_EXHAUSTED
    assert not gate.is_open and not gate.allows_claiming()
    assert gate.since == T0
    assert gate.code == "insufficient_quota" and gate.reason == "balance is empty"
    assert gate.probe_at == T0 + PROBE
    assert not gate.probe_due(T0 + PROBE - timedelta(microseconds=1))
    assert gate.probe_due(T0 + PROBE)


def test_providers_later_reset_time_is_the_probe_time() -> None:
    failure = LLMFailure(FailureKind.QUOTA_EXHAUSTED, "1308", "reset at", retry_at=at(3600))
    assert QuotaGate().close(failure, T0, PROBE).probe_at == at(3600)


def test_providers_reset_time_in_the_past_is_ignored() -> None:
    failure = LLMFailure(FailureKind.QUOTA_EXHAUSTED, "1308", "reset at", retry_at=at(-60))
    assert QuotaGate().close(failure, T0, PROBE).probe_at == T0 + PROBE


def test_providers_reset_time_sooner_than_the_interval_is_trusted() -> None:
    # The provider says when the quota comes back: probing then is not early.
    failure = LLMFailure(FailureKind.QUOTA_EXHAUSTED, "1308", "reset at", retry_at=at(60))
    assert QuotaGate().close(failure, T0, PROBE).probe_at == at(60)


def test_misconfigured_closes_without_a_probe() -> None:
    gate = QuotaGate().close(BAD_KEY, T0, PROBE)
    assert gate.state is GateState.MISCONFIGURED
    assert not gate.allows_claiming()
    assert gate.since == T0 and gate.code == "401"
    assert gate.probe_at is None
    assert not gate.probe_due(at(10**6))


def test_misconfigured_is_probed_once_the_provider_settings_change() -> None:
    """A person fixed the settings and restarted: probe; the same settings: wait for resume."""
    gate = QuotaGate().close(BAD_KEY, T0, PROBE, settings="zai|url|glm-4.6|key-a")
    assert gate.closed_with == "zai|url|glm-4.6|key-a"
    assert not gate.probe_due(at(1), settings="zai|url|glm-4.6|key-a")
    assert not gate.probe_due(at(1))
    assert gate.probe_due(at(1), settings="zai|url|glm-4.6|key-b")
    # an inconclusive probe (a network error) waits for the interval before the next one
    later = gate.probe_later(at(1), PROBE)
    assert not later.probe_due(at(2), settings="zai|url|glm-4.6|key-b")
    assert later.probe_due(at(1) + PROBE, settings="zai|url|glm-4.6|key-b")
    # the new settings fail too: remembered, so that a restart with them does not probe
    again = later.close(BAD_KEY, at(3), PROBE, settings="zai|url|glm-4.6|key-b")
    assert again.since == T0 and again.probe_at is None
    assert not again.probe_due(at(10**6), settings="zai|url|glm-4.6|key-b")
    assert QuotaGate().close(QUOTA, T0, PROBE, settings="x").closed_with is None


@pytest.mark.parametrize(
    "kind",
    [
        FailureKind.CONCURRENCY_LIMITED,
        FailureKind.RATE_LIMITED,
        FailureKind.TRANSIENT,
        FailureKind.REJECTED,
        FailureKind.INTERNAL,
    ],
)
def test_other_failures_do_not_touch_the_gate(kind: FailureKind) -> None:
    open_gate = QuotaGate()
    assert open_gate.close(LLMFailure(kind), T0, PROBE) is open_gate
    closed = QuotaGate().close(QUOTA, T0, PROBE)
    assert closed.close(LLMFailure(kind), at(5), PROBE) is closed


def test_keeps_the_first_since_while_closed_and_moves_the_probe() -> None:
    gate = QuotaGate().close(QUOTA, T0, PROBE)
    again = gate.close(QUOTA, at(700), PROBE)
    assert again.since == T0
    assert again.probe_at == at(700) + PROBE


def test_changing_reason_restarts_since() -> None:
    gate = QuotaGate().close(QUOTA, T0, PROBE).close(BAD_KEY, at(30), PROBE)
    assert gate.state is GateState.MISCONFIGURED
    assert gate.since == at(30)
    assert gate.probe_at is None


def test_reopen_is_a_fresh_open_gate() -> None:
    closed = QuotaGate().close(QUOTA, T0, PROBE)
    assert closed.reopen() == QuotaGate()
    assert closed.reopen().allows_claiming()
    again = closed.reopen().close(QUOTA, at(900), PROBE)
    assert again.since == at(900)


def test_gate_is_immutable() -> None:
    gate = QuotaGate()
    gate.close(QUOTA, T0, PROBE)
    assert gate.is_open


def test_naive_times_are_refused() -> None:
    with pytest.raises(NaiveDatetime):
        QuotaGate().close(QUOTA, NAIVE, PROBE)
    with pytest.raises(NaiveDatetime):
        QuotaGate().probe_due(NAIVE)
