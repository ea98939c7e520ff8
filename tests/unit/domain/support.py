"""Shared helpers for the domain's unit tests: fixed times, a message factory, a
hypothesis profile that keeps the folder fast and writes nothing to disk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
from hypothesis import HealthCheck, settings

from channel_parser.domain.message import IncomingMessage
from channel_parser.domain.status import MessageStatus

T0 = datetime(2026, 1, 25, 18, 42, 51, tzinfo=UTC)
LEASE = timedelta(minutes=2)
NAIVE = datetime(2026, 1, 25, 18, 42, 51)  # no tzinfo: the domain must refuse it

# Modest example counts, no deadline (CI machines stall), and no example
# database: the unit folder does no I/O.
FAST = settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def at(seconds: float) -> datetime:
    """T0 plus *seconds*."""
    return T0 + timedelta(seconds=seconds)


def make_message(status: MessageStatus = MessageStatus.PENDING, **fields: Any) -> IncomingMessage:
    return IncomingMessage(
        channel_id=fields.pop("channel_id", -1001),
        message_id=fields.pop("message_id", 42),
        text=fields.pop("text", "Продаю велосипед, 100$"),
        received_at=fields.pop("received_at", T0),
        status=status,
        **fields,
    )


def snapshot(message: IncomingMessage) -> dict[str, Any]:
    """Every field of the entity, deep-copied, to compare before and after."""
    return attrs.asdict(message, recurse=True)
