"""When the provider says a call may be retried: headers and the reset time in a message."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

# Z.AI prints reset times without a zone, in Beijing time. Of the two plausible readings
# (UTC+8 or UTC) this one is the earlier, so a wrong guess costs one early probe, not hours.
ZAI_NAIVE_ZONE = timezone(timedelta(hours=8))

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_DATETIME_IN_TEXT = re.compile(
    r"(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(Z|UTC|[+-]\d{2}:?\d{2})?"
)
_TRY_AGAIN_IN = re.compile(r"try again in\s+((?:\d+(?:\.\d+)?(?:ms|h|m|s))+)", re.IGNORECASE)
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_MAX_HINT = timedelta(days=40)  # anything further is garbage, not a hint


def parse_duration(text: str) -> timedelta | None:
    """``120ms``, ``6m0s``, ``1h2m3.5s``, ``26.604s``, or a bare number of seconds."""
    value = text.strip().lower()
    if not value:
        return None
    try:
        return _seconds(float(value))
    except ValueError:
        pass
    parts = _DURATION_PART.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        return None
    return _seconds(sum(float(n) * _UNIT_SECONDS[u] for n, u in parts))


def _seconds(value: float) -> timedelta | None:
    """A hint of *value* seconds, or None when it is negative, absurd, inf or NaN."""
    if not math.isfinite(value) or not 0 <= value <= _MAX_HINT.total_seconds():
        return None
    return timedelta(seconds=value)


def retry_at_from_headers(headers: Mapping[str, str], now: datetime) -> datetime | None:
    """The latest retry time the headers name, or None. Keys are matched case-insensitively."""
    lower = {k.lower(): v for k, v in headers.items()}
    hints: list[datetime] = []
    if (ms := lower.get("retry-after-ms")) is not None:
        try:
            delta = _seconds(float(ms) / 1000)
        except ValueError:
            delta = None
        if delta is not None:
            hints.append(now + delta)
    if (after := lower.get("retry-after")) is not None:
        when = _retry_after(after, now)
        if when is not None:
            hints.append(when)
    hints.extend(_ratelimit_resets(lower, now))
    return max(hints) if hints else None


def _retry_after(value: str, now: datetime) -> datetime | None:
    delta = parse_duration(value)
    if delta is not None:
        return now + delta
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC) if when - now <= _MAX_HINT else None


def _ratelimit_resets(lower: Mapping[str, str], now: datetime) -> list[datetime]:
    """The reset of each exhausted limit; of every limit when none says which is exhausted."""
    resets: dict[str, datetime] = {}
    for limit in ("requests", "tokens"):
        raw = lower.get(f"x-ratelimit-reset-{limit}")
        delta = parse_duration(raw) if raw is not None else None
        if delta is not None:
            resets[limit] = now + delta
    exhausted = [k for k in resets if lower.get(f"x-ratelimit-remaining-{k}", "").strip() == "0"]
    return [resets[k] for k in exhausted] if exhausted else list(resets.values())


def retry_at_from_text(message: str, now: datetime) -> datetime | None:
    """A reset time named in a message: a datetime (1308/1310) or "try again in 26.6s"."""
    if (match := _DATETIME_IN_TEXT.search(message)) is not None:
        return _datetime_from_match(match)
    if (again := _TRY_AGAIN_IN.search(message)) is not None:
        delta = parse_duration(again.group(1))
        return now + delta if delta is not None else None
    return None


def _datetime_from_match(match: re.Match[str]) -> datetime | None:
    day, clock, zone = match.groups()
    try:
        naive = datetime.fromisoformat(f"{day}T{clock}")
    except ValueError:
        return None
    if zone is None:
        return naive.replace(tzinfo=ZAI_NAIVE_ZONE).astimezone(UTC)
    if zone in {"Z", "UTC"}:
        return naive.replace(tzinfo=UTC)
    try:
        offset = datetime.fromisoformat(f"{day}T{clock}{zone[:3]}:{zone[-2:]}")
    except ValueError:
        return None
    return offset.astimezone(UTC)
