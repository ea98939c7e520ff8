"""Reopen the gate in front of the LLM and give back what it stopped."""

from __future__ import annotations

import logging

import attrs

from channel_parser.application import notifications
from channel_parser.application.ports.clock import Clock
from channel_parser.application.ports.metrics import Metrics
from channel_parser.application.ports.storage import MessageRepository, ServiceState
from channel_parser.application.use_cases.notify_admins import NotifyAdmins
from channel_parser.domain.failures import GATE_FAILURES, NotificationKind
from channel_parser.domain.gate import GateState
from channel_parser.domain.status import MessageStatus

log = logging.getLogger(__name__)


@attrs.frozen
class Resumed:
    was: GateState
    requeued: int  # messages the empty balance (or a bad setting) had stopped
    backlog: int  # messages now waiting to be parsed


class ResumeParsing:
    """Used by the quota probe when a call succeeds again, and by ``resume`` by hand."""

    def __init__(
        self,
        messages: MessageRepository,
        state: ServiceState,
        notify: NotifyAdmins,
        clock: Clock,
        metrics: Metrics,
    ) -> None:
        self._messages = messages
        self._state = state
        self._notify = notify
        self._clock = clock
        self._metrics = metrics

    async def __call__(self) -> Resumed:
        gate = await self._state.quota_gate()
        await self._state.set_quota_gate(gate.reopen())
        # SPEC.md: an empty balance is told at once; one that comes back and runs out
        # again within the quota interval is a new exhaustion, not a repeat to throttle.
        await self._state.clear_notification_slot(NotificationKind.QUOTA_EXHAUSTED)
        self._metrics.set_gate(GateState.OPEN)
        now = self._clock.now()
        requeued = await self._messages.requeue(now, kinds=GATE_FAILURES)
        stats = await self._messages.stats()
        backlog = stats.by_status.get(MessageStatus.PENDING, 0) + stats.by_status.get(
            MessageStatus.RETRY, 0
        )
        log.info("parsing resumed (was %s): %d requeued, %d waiting", gate.state, requeued, backlog)
        if not gate.is_open:
            await self._notify(
                NotificationKind.QUOTA_RESTORED,
                lambda: notifications.quota_restored(now, requeued, backlog),
            )
        return Resumed(gate.state, requeued, backlog)
