"""SPEC.md's rule: a message is processed only when it is due, the quota is
open and its channel is available."""

from __future__ import annotations

import enum
from datetime import datetime

from channel_parser.domain.gate import QuotaGate
from channel_parser.domain.message import IncomingMessage


class Eligibility(enum.StrEnum):
    ELIGIBLE = "eligible"
    NOT_WAITING = "not_waiting"  # done, error or being processed
    NOT_DUE = "not_due"
    GATE_CLOSED = "gate_closed"
    CHANNEL_UNAVAILABLE = "channel_unavailable"


def eligibility(
    message: IncomingMessage, now: datetime, gate: QuotaGate, channel_available: bool
) -> Eligibility:
    if not message.status.waiting:
        return Eligibility.NOT_WAITING
    if not message.is_due(now):
        return Eligibility.NOT_DUE
    if not gate.allows_claiming():
        return Eligibility.GATE_CLOSED
    if not channel_available:
        return Eligibility.CHANNEL_UNAVAILABLE
    return Eligibility.ELIGIBLE
