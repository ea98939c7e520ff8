"""Small helpers for the aware-UTC datetimes the domain works with."""

from __future__ import annotations

from datetime import UTC, datetime

from channel_parser.domain.errors import NaiveDatetime


def require_aware(value: datetime, name: str = "time") -> datetime:
    """Return *value* in UTC, refusing naive datetimes."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetime(f"{name} must be timezone-aware, got {value!r}")
    return value.astimezone(UTC)
