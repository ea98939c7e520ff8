"""require_aware: the domain refuses naive datetimes and works in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo

import pytest

from channel_parser.domain.errors import DomainError, NaiveDatetime
from channel_parser.domain.time import require_aware
from tests.unit.domain.support import NAIVE, T0


class _NoOffset(tzinfo):
    """A broken tzinfo whose utcoffset is None: as naive as no tzinfo at all."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str | None:
        return None


def test_naive_is_refused_with_the_name() -> None:
    with pytest.raises(NaiveDatetime, match="retry_after must be timezone-aware"):
        require_aware(NAIVE, "retry_after")


def test_tzinfo_without_offset_is_refused() -> None:
    with pytest.raises(NaiveDatetime):
        require_aware(datetime(2026, 1, 1, tzinfo=_NoOffset()))


def test_naive_datetime_error_is_a_domain_and_value_error() -> None:
    assert issubclass(NaiveDatetime, DomainError)
    assert issubclass(NaiveDatetime, ValueError)


def test_aware_is_converted_to_utc() -> None:
    tokyo = T0.astimezone(timezone(timedelta(hours=9)))
    got = require_aware(tokyo)
    assert got == T0
    assert got.tzinfo is UTC


def test_utc_passes_through_equal() -> None:
    assert require_aware(T0) == T0
