"""Tell the admins, at most once per interval per kind, across every worker process."""

from __future__ import annotations

import logging
from collections.abc import Callable

from channel_parser.application.errors import StorageError
from channel_parser.application.notifications import with_suppressed
from channel_parser.application.ports.clock import Clock
from channel_parser.application.ports.metrics import Metrics
from channel_parser.application.ports.notify import AdminNotifier
from channel_parser.application.ports.storage import ServiceState
from channel_parser.domain.failures import NotificationKind
from channel_parser.domain.throttle import NotificationThrottle, ThrottleSlot

log = logging.getLogger(__name__)


class NotifyAdmins:
    def __init__(
        self,
        state: ServiceState,
        notifier: AdminNotifier,
        throttle: NotificationThrottle,
        clock: Clock,
        metrics: Metrics,
    ) -> None:
        self._state = state
        self._notifier = notifier
        self._throttle = throttle
        self._clock = clock
        self._metrics = metrics
        # Used only while the shared state cannot be reached (e.g. the database is down).
        self._local_slots: dict[NotificationKind, ThrottleSlot] = {}

    async def __call__(self, kind: NotificationKind, render: Callable[[], str]) -> bool:
        """Send ``render()`` if the throttle allows; True when it was sent."""
        now = self._clock.now()
        decide = self._throttle.decider(kind, now)
        try:
            slot = await self._state.take_notification_slot(kind, now, decide)
            taken, suppressed = slot.taken, slot.suppressed_before
        except StorageError:
            decision = decide(self._local_slots.get(kind, ThrottleSlot()))
            self._local_slots[kind] = decision.slot
            taken, suppressed = decision.send, decision.suppressed_before
        self._metrics.notification(kind, sent=taken)
        if not taken:
            log.debug("notification %s suppressed by the throttle", kind)
            return False
        delivered = await self._notifier.send(with_suppressed(render(), suppressed))
        if not delivered:
            log.warning("notification %s could not be delivered to the admins", kind)
        return delivered
