"""A parsed result into the outbox for every route whose condition it matches, just before
it is saved (ADR 0017): a crash between the two parses it again and delivers it again, so
a saved result is never left undelivered (at least once, never lost)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from datetime import timedelta

from channel_parser.application.channel_directory import ChannelDirectory
from channel_parser.application.deliveries import Deliveries
from channel_parser.application.ports.routes import ResultRoute
from channel_parser.application.records import record
from channel_parser.application.storage_health import StorageHealth
from channel_parser.application.use_cases.export_results import ExportedPost
from channel_parser.domain.message import IncomingMessage

log = logging.getLogger(__name__)


class QueueResults:
    def __init__(
        self,
        routes: Sequence[ResultRoute],
        deliveries: Deliveries,
        directory: ChannelDirectory,
        health: StorageHealth,
        give_up_after: timedelta = timedelta(seconds=30),
    ) -> None:
        self._routes = list(routes)
        self._deliveries = deliveries
        self._directory = directory
        self._health = health
        self._give_up_after = give_up_after

    @property
    def active(self) -> bool:
        return bool(self._routes)

    async def __call__(self, message: IncomingMessage) -> int:
        """Queue the result of *message* (DONE) for its routes; how many entries were kept.
        Rides out a storage outage of up to *give_up_after*, then raises StorageError (the
        message is not saved either, and its lease brings it back)."""
        if not self._routes:
            return 0
        channel = await self._directory.get(message.channel_id)
        data = record(ExportedPost(message, channel))
        kept = 0
        for route in self._routes:
            payload = route.payload(data)
            if payload is None:
                continue
            keep = functools.partial(self._deliveries.keep, route.topic, payload)
            kept += await self._health.retry(keep, self._give_up_after)
        if kept:
            log.debug("message %s: result queued for %d deliveries", message.key, kept)
        return kept
