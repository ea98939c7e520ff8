"""Exponential backoff for retries: SPEC.md's table by default."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import attrs

from channel_parser.domain.time import require_aware


def _positive(_: object, attribute: attrs.Attribute[timedelta], value: timedelta) -> None:
    if value <= timedelta(0):
        raise ValueError(f"{attribute.name} must be positive, got {value}")


@attrs.frozen
class BackoffPolicy:
    """delay(n) = min(base * factor**(n-1), cap); 30, 60, 120, 240, 480, 480, ... by default.

    Jitter is off by default so that the table holds exactly. With ``jitter=j`` the
    delay is scaled by a factor in ``[1 - j, 1 + j]`` chosen by the caller's random
    number ``u`` in ``[0, 1)`` (the domain draws no randomness itself), and still
    never exceeds the cap.
    """

    base: timedelta = attrs.field(default=timedelta(seconds=30), validator=_positive)
    factor: float = attrs.field(default=2.0, validator=attrs.validators.ge(1.0))
    cap: timedelta = attrs.field(default=timedelta(seconds=480), validator=_positive)
    jitter: float = attrs.field(
        default=0.0, validator=[attrs.validators.ge(0.0), attrs.validators.le(1.0)]
    )

    def delay(self, attempt: int, u: float | None = None) -> timedelta:
        """The wait before retry number *attempt* (1-based)."""
        if attempt < 1:
            raise ValueError(f"attempt must be >= 1, got {attempt}")
        cap_s = self.cap.total_seconds()
        base_s = self.base.total_seconds()
        seconds = cap_s
        # Compare exponents first, so that a huge attempt number cannot overflow.
        if base_s < cap_s and (
            self.factor == 1.0 or attempt - 1 < math.log(cap_s / base_s, self.factor) + 1
        ):
            seconds = min(base_s * self.factor ** (attempt - 1), cap_s)
        if self.jitter and u is not None:
            if not 0.0 <= u < 1.0:
                raise ValueError(f"u must be in [0, 1), got {u}")
            seconds = min(seconds * (1.0 - self.jitter + 2.0 * self.jitter * u), cap_s)
        return timedelta(seconds=seconds)

    def retry_at(
        self,
        attempt: int,
        now: datetime,
        provider_retry_at: datetime | None = None,
        u: float | None = None,
    ) -> datetime:
        """When retry *attempt* may run; the provider's own later time wins."""
        now = require_aware(now, "now")
        ours = now + self.delay(attempt, u)
        if provider_retry_at is not None:
            provider_retry_at = require_aware(provider_retry_at, "provider_retry_at")
            if provider_retry_at > ours:
                return provider_retry_at
        return ours
