"""The gate in front of the LLM: closed while the balance is empty or the
configuration is broken, reopened when a probe call succeeds."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

import attrs

from channel_parser.domain.failures import GateAction, LLMFailure
from channel_parser.domain.time import require_aware


class GateState(enum.StrEnum):
    OPEN = "open"
    QUOTA_EXHAUSTED = "quota_exhausted"
    MISCONFIGURED = "misconfigured"


@attrs.frozen
class QuotaGate:
    """Open, or closed since a time for a reason, with the time of the next probe.

    A misconfigured gate remembers the provider settings it closed with (a fingerprint,
    never the key): it is probed once a process starts with other settings (a person
    fixed them), and otherwise waits for ``resume``.
    """

    state: GateState = GateState.OPEN
    since: datetime | None = None
    code: str | None = None
    reason: str = ""
    probe_at: datetime | None = None
    closed_with: str | None = None  # MISCONFIGURED: the provider settings' fingerprint

    @property
    def is_open(self) -> bool:
        return self.state is GateState.OPEN

    def allows_claiming(self) -> bool:
        return self.is_open

    def probe_due(self, now: datetime, settings: str | None = None) -> bool:
        """Whether to send a probe call now: when the balance may be back (its probe time
        came), or when a misconfigured gate meets provider settings (*settings*, their
        fingerprint) other than those it closed with."""
        now = require_aware(now, "now")
        if self.state is GateState.QUOTA_EXHAUSTED:
            return self.probe_at is not None and self.probe_at <= now
        if self.state is GateState.MISCONFIGURED:
            changed = settings is not None and settings != self.closed_with
            return changed and (self.probe_at is None or self.probe_at <= now)
        return False

    def close(
        self,
        failure: LLMFailure,
        now: datetime,
        probe_every: timedelta,
        settings: str | None = None,
    ) -> QuotaGate:
        """Close (or keep closed) for *failure*; keeps the first ``since``. A
        misconfiguration remembers *settings*, the fingerprint of the provider settings
        that failed."""
        now = require_aware(now, "now")
        action = failure.effect.gate
        if action is GateAction.NONE:
            return self
        if action is GateAction.CLOSE_QUOTA:
            state = GateState.QUOTA_EXHAUSTED
            probe_at = now + probe_every
            # A provider's own reset time (1308/1310, daily 1304) is when to look again.
            if failure.retry_at is not None and failure.retry_at > now:
                probe_at = failure.retry_at
        else:
            state = GateState.MISCONFIGURED
            probe_at = None
        since = self.since if self.state is state and self.since is not None else now
        closed_with = settings if state is GateState.MISCONFIGURED else None
        return QuotaGate(state, since, failure.code, failure.message, probe_at, closed_with)

    def probe_later(self, now: datetime, probe_every: timedelta) -> QuotaGate:
        """An inconclusive probe (a network error, a rate limit): look again later."""
        if self.state is GateState.OPEN:
            return self
        return attrs.evolve(self, probe_at=require_aware(now, "now") + probe_every)

    def reopen(self) -> QuotaGate:
        return QuotaGate()
