"""Tell the admins, at most once per interval per kind, across every worker process.

What the throttle lets through goes into the durable outbox (one fast write) and is
delivered beside parsing by ``Deliveries``: a slow or hanging Bot API never holds up the
caller, and a notification is kept until every admin has it (ADR 0013)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from channel_parser.application.deliveries import ADMIN_TOPIC, Deliveries
from channel_parser.application.errors import StorageError
from channel_parser.application.notifications import with_suppressed
from channel_parser.application.ports.clock import Clock
from channel_parser.application.ports.metrics import Metrics
from channel_parser.application.ports.storage import ServiceState
from channel_parser.domain.failures import NotificationKind
from channel_parser.domain.throttle import NotificationThrottle, ThrottleSlot

log = logging.getLogger(__name__)


class NotifyAdmins:
    def __init__(
        self,
        state: ServiceState,
        deliveries: Deliveries,
        throttle: NotificationThrottle,
        clock: Clock,
        metrics: Metrics,
    ) -> None:
        self._state = state
        self._deliveries = deliveries
        self._throttle = throttle
        self._clock = clock
        self._metrics = metrics
        # Used only while the shared state cannot be reached (e.g. the database is down).
        self._local_slots: dict[NotificationKind, ThrottleSlot] = {}

    async def __call__(self, kind: NotificationKind, render: Callable[[], str]) -> bool:
        """Send ``render()`` if the throttle allows; True when it goes out (kept in the
        outbox, or handed to the sender at once while the store is down)."""
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
        text = with_suppressed(render(), suppressed)
        await self._deliveries.enqueue(ADMIN_TOPIC, {"kind": str(kind), "text": text})
        return True
