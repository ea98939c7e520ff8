"""Delivering the durable outbox beside parsing, never inside it (ADR 0013).

``enqueue`` fans a payload out to the topic's destinations as outbox entries: one fast
write, and the caller (NotifyAdmins, inside the parsing path) goes on. ``run`` is a loop
of its own, started by the service and by ``process``: in the one process that holds the
``outbox-delivery`` lease it delivers each queue's entries in order, waits a refusal's
own "retry after" however long, backs off while a destination is down, and gives up only
on what can never be delivered; elsewhere it waits for the lease. When the store cannot
take an entry (the database is down), it is handed to the sender at once, in a task of
its own, as the best that can be done.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from channel_parser.application.errors import StorageError
from channel_parser.application.ports.clock import Clock
from channel_parser.application.ports.metrics import Metrics
from channel_parser.application.ports.notify import (
    Delivered,
    DeliveryResult,
    NotificationSender,
    RetryLater,
)
from channel_parser.application.ports.outbox import Outbox
from channel_parser.application.ports.storage import ServiceState
from channel_parser.application.waiting import sleep_unless_woken
from channel_parser.domain.outbox import DeliveryPolicy, OutboxEntry

log = logging.getLogger(__name__)

ADMIN_TOPIC = "admin"  # the admins' notifications
DELIVERY_LEASE = "outbox-delivery"
KEEP_FINISHED = timedelta(days=7)  # delivered and failed entries are forgotten after this
MAX_DETACHED = 20  # best-effort sends in flight while the store is down

_sequence = itertools.count()


def new_entry_id(now: datetime) -> str:
    """Sorts in the order entries were made: the time, this process's counter, a tiebreak."""
    return f"{now:%Y%m%dT%H%M%S.%fZ}-{next(_sequence):09d}-{uuid.uuid4().hex[:8]}"


class Deliveries:
    def __init__(
        self,
        outbox: Outbox,
        state: ServiceState,
        senders: Mapping[str, NotificationSender],
        clock: Clock,
        metrics: Metrics,
        owner: str,
        policy: DeliveryPolicy | None = None,
        *,
        poll: timedelta = timedelta(seconds=5),
        lease: timedelta = timedelta(seconds=60),
    ) -> None:
        self._outbox = outbox
        self._state = state
        self._senders = dict(senders)
        self._clock = clock
        self._metrics = metrics
        self._owner = f"{owner}/deliveries"
        self._policy = policy or DeliveryPolicy()
        self._poll = poll.total_seconds()
        self._lease = lease
        self._lease_renewed: datetime | None = None
        self._wake = asyncio.Event()
        self._detached: set[asyncio.Task[None]] = set()
        self._purged_at: datetime | None = None

    # -- putting in ------------------------------------------------------------------

    async def enqueue(self, topic: str, payload: Mapping[str, Any]) -> bool:
        """Keep *payload* for each destination of *topic*; True when kept in the store.
        Never raises for the store: when it fails, the payload is sent at once instead."""
        sender = self._senders[topic]
        now = self._clock.now()
        entries = [
            OutboxEntry(new_entry_id(now), topic, destination, dict(payload), now)
            for destination in sender.destinations
        ]
        if not entries:
            log.warning("nothing to deliver %s to: no destinations are configured", topic)
            return False
        try:
            await self._outbox.put(entries)
        except StorageError as exc:
            log.warning("outbox unavailable (%s): sending the %s payload at once", exc, topic)
            self._send_detached(sender, entries)
            return False
        self._wake.set()
        return True

    async def keep(self, topic: str, payload: Mapping[str, Any]) -> int:
        """Keep *payload* for each destination of *topic*, or raise StorageError: for what
        must never be sent without being kept (results: the caller retries through an
        outage, ADR 0017). Returns how many entries were kept."""
        now = self._clock.now()
        entries = [
            OutboxEntry(new_entry_id(now), topic, destination, dict(payload), now)
            for destination in self._senders[topic].destinations
        ]
        if entries:
            await self._outbox.put(entries)
            self._wake.set()
        return len(entries)

    def _send_detached(self, sender: NotificationSender, entries: list[OutboxEntry]) -> None:
        if len(self._detached) >= MAX_DETACHED:
            log.error("dropped a payload: %d best-effort sends already in flight", MAX_DETACHED)
            return

        async def send() -> None:
            for entry in entries:
                result = await sender.deliver(entry.destination, entry.payload)
                if not isinstance(result, Delivered):
                    log.warning("best-effort send to %s failed: %s", entry.destination, result)

        task = asyncio.create_task(send())
        self._detached.add(task)
        task.add_done_callback(self._detached.discard)

    # -- the loop --------------------------------------------------------------------

    async def run(self) -> None:
        """Until cancelled: deliver while holding the lease, wait for it otherwise."""
        try:
            while True:
                await self._wait(await self._round())
        finally:
            await self._close()

    async def drain(self, within: timedelta) -> None:
        """Deliver what is due now (not what waits for a later time), for at most
        *within*: ``process --until-idle`` before it exits. What is left stays kept."""
        try:
            async with asyncio.timeout(within.total_seconds()):
                if await self._hold_lease():
                    await self.deliver_due()
        except TimeoutError:
            log.info("outbox: what is left is delivered by the next run")
        except StorageError as exc:
            log.warning("outbox not drained: the store failed: %s", exc)
        await self._close()

    async def _round(self) -> float:
        """One round; the seconds to wait before the next."""
        if not await self._hold_lease():
            return self._lease.total_seconds() / 2
        try:
            next_at = await self.deliver_due()
            await self._purge_now_and_then()
        except StorageError as exc:
            log.warning("outbox delivery paused: the store failed: %s", exc)
            return self._poll
        wait = self._poll
        if next_at is not None:
            wait = min(wait, (next_at - self._clock.now()).total_seconds())
        return max(wait, 0.0)

    async def deliver_due(self) -> datetime | None:
        """Deliver every due head, queue after queue in parallel, until none is due; the
        earliest time a waiting head will be due (None: nothing waits)."""
        changed = False
        while True:
            heads = await self._outbox.heads()
            now = self._clock.now()
            # A topic without a sender here is another kind of process's to deliver.
            mine = [head for head in heads if head.topic in self._senders]
            due = [head for head in mine if head.is_due(now)]
            if not due:
                if changed:
                    await self._report()
                waits = [h.next_attempt_at for h in mine if h.next_attempt_at is not None]
                return min(waits, default=None)
            if not await self._hold_lease():
                return None
            # Each due head once; a retried one is not due again this round.
            await asyncio.gather(*(self._try(head) for head in due))
            changed = True

    async def _try(self, entry: OutboxEntry) -> None:
        """Try one entry and record what happened."""
        result = await self._senders[entry.topic].deliver(entry.destination, entry.payload)
        outcome = self._apply(entry, result, self._clock.now())
        self._metrics.delivery(entry.topic, outcome)
        if not await self._outbox.save(entry):
            log.warning("outbox entry %s was recorded by another process", entry.entry_id)

    def _apply(self, entry: OutboxEntry, result: DeliveryResult, now: datetime) -> str:
        if isinstance(result, Delivered):
            entry.delivered(now)
            return "delivered"
        if isinstance(result, RetryLater):
            when = self._policy.next_attempt(entry.attempts + 1, now, result.after)
            entry.retry_at(when, result.reason)
            log.info(
                "%s to %s not delivered (%s); next try at %s",
                entry.topic,
                entry.destination,
                result.reason,
                when.isoformat(timespec="seconds"),
            )
            return "retry"
        entry.give_up(result.reason, now)
        log.error("%s to %s given up: %s", entry.topic, entry.destination, result.reason)
        return "failed"

    async def _hold_lease(self) -> bool:
        """Take or renew the delivery lease (renewed once a third of it has passed)."""
        now = self._clock.now()
        if self._lease_renewed is not None and now < self._lease_renewed + self._lease / 3:
            return True
        try:
            held = await self._state.acquire_lease(DELIVERY_LEASE, self._owner, now, self._lease)
        except StorageError as exc:
            log.warning("outbox delivery lease not renewed: %s", exc)
            held = False
        self._lease_renewed = now if held else None
        return held

    async def _purge_now_and_then(self) -> None:
        now = self._clock.now()
        if self._purged_at is not None and now - self._purged_at < timedelta(hours=1):
            return
        self._purged_at = now
        purged = await self._outbox.purge(now - KEEP_FINISHED)
        if purged:
            log.info("outbox: forgot %d entries finished more than a week ago", purged)
        await self._report()

    async def _report(self) -> None:
        stats = await self._outbox.stats()
        self._metrics.set_outbox(stats.pending, stats.failed, stats.by_topic)

    async def _wait(self, seconds: float) -> None:
        await sleep_unless_woken(self._clock, self._wake, seconds)

    async def _close(self) -> None:
        """Give the lease back, let best-effort sends end (they have deadlines), and close
        the senders' connections (a later round opens them again)."""
        if self._detached:
            await asyncio.wait(set(self._detached), timeout=15)
        for sender in self._senders.values():
            await sender.aclose()
        if self._lease_renewed is not None:
            self._lease_renewed = None
            with contextlib.suppress(StorageError):
                await asyncio.shield(self._state.release_lease(DELIVERY_LEASE, self._owner))
