"""The quota gate's stored document, read defensively (read_gate)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from channel_parser.adapters.storage.gate_document import LONG_AGO, read_gate
from channel_parser.domain.gate import GateState, QuotaGate

SINCE = datetime(2026, 1, 25, 18, 0, tzinfo=UTC)
PROBE = datetime(2026, 1, 25, 18, 5, tzinfo=UTC)


def iso(value: object) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def stored(**changes: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "state": "quota_exhausted",
        "since": SINCE.isoformat(),
        "code": "1113",
        "reason": "Insufficient balance",
        "probe_at": PROBE.isoformat(),
        "closed_with": None,
    }
    doc.update(changes)
    return doc


def test_a_document_as_written_is_read_as_it_was() -> None:
    assert read_gate(stored(), iso) == QuotaGate(
        GateState.QUOTA_EXHAUSTED, SINCE, "1113", "Insufficient balance", PROBE
    )


@pytest.mark.parametrize("spelling", ["QUOTA_EXHAUSTED", "Quota_Exhausted", " quota_exhausted "])
def test_the_state_is_read_whatever_its_case(spelling: str) -> None:
    assert read_gate(stored(state=spelling), iso).state is GateState.QUOTA_EXHAUSTED


def test_fields_left_out_by_hand_take_their_defaults() -> None:
    assert read_gate({"state": "OPEN"}, iso) == QuotaGate()
    gate = read_gate({"state": "misconfigured", "since": SINCE.isoformat()}, iso)
    assert (gate.state, gate.since, gate.reason, gate.probe_at) == (
        GateState.MISCONFIGURED,
        SINCE,
        "",
        None,
    )


def test_a_gate_closed_for_quota_without_a_probe_time_is_probed_at_once() -> None:
    """Else it would wait for a probe that never comes."""
    assert read_gate(stored(probe_at=None), iso).probe_at == SINCE
    gate = read_gate(stored(probe_at=None, since=None), iso)
    assert gate.probe_at == LONG_AGO
    assert gate.probe_due(SINCE)


@pytest.mark.parametrize(
    "doc",
    [
        stored(state="half-open"),
        stored(state=3),
        stored(since="yesterday"),
        stored(since="2026-01-25T18:00:00"),  # no zone
        stored(code=1113),
        stored(reason=["a", "list"]),
        {"status": "quota_exhausted"},
        "quota_exhausted",
        [],
        None,
    ],
    ids=repr,
)
def test_a_document_that_cannot_be_read_is_an_open_gate_with_one_warning(
    doc: object, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        assert read_gate(doc, iso) == QuotaGate()
    (record,) = caplog.records
    assert "the stored quota gate cannot be read" in record.getMessage()
    assert "taken as open" in record.getMessage()
