"""The engine's tunables, built from settings by the bootstrap."""

from __future__ import annotations

from datetime import timedelta

import attrs

from channel_parser.domain.backoff import BackoffPolicy
from channel_parser.domain.failures import DEFAULT_INTERNAL_ERROR_LIMIT
from channel_parser.domain.throttle import NotificationThrottle


@attrs.frozen
class EngineConfig:
    backoff: BackoffPolicy = attrs.field(factory=BackoffPolicy)
    throttle: NotificationThrottle = attrs.field(factory=NotificationThrottle)
    lease: timedelta = timedelta(seconds=60)  # renewed every lease/3 while a call runs
    poll_interval: timedelta = timedelta(seconds=2)  # posts stored by other processes
    stuck_check_interval: timedelta = timedelta(seconds=60)
    quota_probe_interval: timedelta = timedelta(minutes=5)
    shutdown_grace: timedelta = timedelta(seconds=30)
    storage_retry_max: timedelta = timedelta(seconds=30)
    internal_error_limit: int = DEFAULT_INTERNAL_ERROR_LIMIT  # in a row, then ERROR
    # Messages claimed ahead of a free permit, so that a freed one never waits for a claim.
    prefetch: int = attrs.field(default=2, validator=attrs.validators.ge(0))
