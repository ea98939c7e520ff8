"""While the balance is empty, ask the provider now and then whether it is back."""

from __future__ import annotations

import enum
import logging

from channel_parser.application import notifications
from channel_parser.application.config import EngineConfig
from channel_parser.application.ports.clock import Clock
from channel_parser.application.ports.llm import LLMParser, ParseRequest
from channel_parser.application.ports.storage import ServiceState
from channel_parser.application.usage import UsageRecorder
from channel_parser.application.use_cases.notify_admins import NotifyAdmins
from channel_parser.application.use_cases.resume_parsing import ResumeParsing
from channel_parser.domain.failures import FailureKind, LLMFailure, NotificationKind

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

    async def __call__(self) -> ProbeResult:
        gate = await self._state.quota_gate()
        now = self._clock.now()
        if not gate.probe_due(now):
            return ProbeResult.NOT_DUE
        interval = self._config.quota_probe_interval
        if not await self._state.acquire_lease(PROBE_LEASE, self._owner, now, interval):
            return ProbeResult.BUSY
        outcome = await self._parser.parse(ParseRequest(PROBE_TEXT, "quota-probe"))
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
            await self._state.set_quota_gate(gate.close(outcome, now, interval))
        else:  # inconclusive (a rate limit, a network error)
            await self._state.set_quota_gate(gate.probe_later(now, interval))
        if outcome.kind is FailureKind.QUOTA_EXHAUSTED:
            # A reminder at most every 15 minutes while the balance stays empty.
            await self._notify(
                NotificationKind.QUOTA_EXHAUSTED, lambda: notifications.quota_exhausted(now)
            )
        return ProbeResult.STILL_CLOSED
