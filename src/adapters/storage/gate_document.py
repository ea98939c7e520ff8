"""The quota gate's stored document, read defensively: a document edited by hand into a
shape the code does not know must not stop the service (or hold it closed for ever)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from channel_parser.domain.gate import GateState, QuotaGate

log = logging.getLogger(__name__)

LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)  # a probe time that is always due


def read_gate(doc: object, read_time: Callable[[Any], datetime | None]) -> QuotaGate:
    """The gate *doc* describes; *read_time* turns a stored time into an aware datetime
    (or None). A document that cannot be read gives an open gate, after one WARNING that
    names it: the next quota or configuration failure closes it again, at the cost of
    one call. A closed-for-quota gate with no probe time is probed at once."""
    try:
        return _read(doc, read_time)
    except Exception as exc:
        log.warning(
            "the stored quota gate cannot be read (%s: %s); it is taken as open, and the "
            "next quota or configuration failure closes it again",
            type(exc).__name__,
            str(exc)[:300],
        )
        return QuotaGate()


def _read(doc: object, read_time: Callable[[Any], datetime | None]) -> QuotaGate:
    if not isinstance(doc, Mapping):
        raise TypeError(f"a document was expected, not {type(doc).__name__}")
    state = GateState(_text(doc.get("state"), "state").strip().lower())
    since = _aware(read_time(doc.get("since")), "since")
    probe_at = _aware(read_time(doc.get("probe_at")), "probe_at")
    if state is GateState.QUOTA_EXHAUSTED and probe_at is None:
        probe_at = since or LONG_AGO
    return QuotaGate(
        state=state,
        since=since,
        code=_optional_text(doc.get("code"), "code"),
        reason=_optional_text(doc.get("reason"), "reason") or "",
        probe_at=probe_at,
        closed_with=_optional_text(doc.get("closed_with"), "closed_with"),
    )


def _text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} is {type(value).__name__}, not text")
    return value


def _optional_text(value: object, name: str) -> str | None:
    return None if value is None else _text(value, name)


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise TypeError(f"{name} is not a time with a zone")
    return value
