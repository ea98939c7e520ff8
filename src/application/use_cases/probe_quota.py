"""While the balance is empty, ask the provider now and then whether it is back; and
once, when a process starts with other provider settings than a misconfiguration
closed the gate with, whether they work."""

from __future__ import annotations

import enum
import logging
from datetime import datetime

from channel_parser.application import notifications
from channel_parser.application.config import EngineConfig
from channel_parser.application.ports.clock import Clock
from channel_parser.application.ports.llm import LLMParser, ParseRequest
from channel_parser.application.ports.storage import ServiceState
from channel_parser.application.usage import UsageRecorder
from channel_parser.application.use_cases.notify_admins import NotifyAdmins
from channel_parser.application.use_cases.resume_parsing import ResumeParsing
from channel_parser.domain.failures import FailureKind, LLMFailure, NotificationKind
from channel_parser.domain.gate import QuotaGate

log = logging.getLogger(__name__)

PROBE_TEXT = "Проверка доступности API / API availability check."
PROBE_LEASE = "quota-probe"


class ProbeResult(enum.StrEnum):
    NOT_DUE = "not_due"
    BUSY = "busy"  # another process is probing
    STILL_CLOSED = "still_closed"
    REOPENED = "reopened"


class ProbeQuota:
    def __init__(
        self,
        parser: LLMParser,
        state: ServiceState,
        notify: NotifyAdmins,
        resume: ResumeParsing,
        clock: Clock,
        config: EngineConfig,
        owner: str,
        usage: UsageRecorder | None = None,  # counts what probes cost (None: not counted)
    ) -> None:
        self._parser = parser
        self._state = state
        self._notify = notify
        self._resume = resume
        self._clock = clock
        self._config = config
        self._owner = owner
        self._usage = usage

    def due(self, gate: QuotaGate, now: datetime) -> bool:
        """Whether *gate* wants a probe now with this process's provider settings."""
        return gate.probe_due(now, self._parser.settings_fingerprint)

    async def __call__(self) -> ProbeResult:
        gate = await self._state.quota_gate()
        now = self._clock.now()
        if not self.due(gate, now):
            return ProbeResult.NOT_DUE
        interval = self._config.quota_probe_interval
        if not await self._state.acquire_lease(PROBE_LEASE, self._owner, now, interval):
            return ProbeResult.BUSY
        log.info("probing the LLM provider (the gate is %s)", gate.state)
        try:
            outcome = await self._parser.parse(ParseRequest(PROBE_TEXT, "quota-probe"))
        except Exception as exc:  # a bug in the parser: inconclusive, look again later
            log.error("quota probe failed: %s: %s", type(exc).__name__, exc, exc_info=exc)
            outcome = LLMFailure(FailureKind.INTERNAL, type(exc).__name__, str(exc)[:500])
        now = self._clock.now()
        if self._usage is not None:
            await self._usage(outcome.usage)
        # An answer, even one that fails our schema, shows the provider serves us again.
        if not isinstance(outcome, LLMFailure) or outcome.kind is FailureKind.REJECTED:
            await self._resume()
            return ProbeResult.REOPENED
        log.info("quota probe: still closed (%s, code %s)", outcome.kind, outcome.code)
        gate = await self._state.quota_gate()
        if outcome.kind in (FailureKind.QUOTA_EXHAUSTED, FailureKind.MISCONFIGURED):
            settings = self._parser.settings_fingerprint
            await self._state.set_quota_gate(gate.close(outcome, now, interval, settings))
        else:  # inconclusive (a rate limit, a network error)
            await self._state.set_quota_gate(gate.probe_later(now, interval))
        if outcome.kind is FailureKind.QUOTA_EXHAUSTED:
            # A reminder at most every 15 minutes while the balance stays empty.
            await self._notify(
                NotificationKind.QUOTA_EXHAUSTED, lambda: notifications.quota_exhausted(now)
            )
        elif outcome.kind is FailureKind.MISCONFIGURED:
            failure = outcome
            await self._notify(
                NotificationKind.MISCONFIGURED,
                lambda: notifications.misconfigured(now, failure.code, failure.message),
            )
        return ProbeResult.STILL_CLOSED
