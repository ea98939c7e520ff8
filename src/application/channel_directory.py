"""What the registry knows of each channel (title, username), read at most once a minute:
a post is parsed with its channel's title and username, and under its channel's profile,
without a read of the registry for every post."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from channel_parser.application.errors import StorageError
from channel_parser.application.ports.clock import Clock
from channel_parser.application.ports.storage import ChannelInfo, ChannelRegistry

log = logging.getLogger(__name__)


class ChannelDirectory:
    def __init__(
        self, channels: ChannelRegistry, clock: Clock, ttl: timedelta = timedelta(minutes=1)
    ) -> None:
        self._channels = channels
        self._clock = clock
        self._ttl = ttl
        self._known: dict[int, ChannelInfo] = {}
        self._read_at: datetime | None = None

    async def get(self, channel_id: int) -> ChannelInfo | None:
        """The channel as last read (None: unknown). A registry that cannot be read leaves
        what was read before: a post is then parsed with older details, never held up."""
        now = self._clock.now()
        if self._read_at is None or now - self._read_at >= self._ttl:
            self._read_at = now
            try:
                self._known = {info.channel_id: info for info in await self._channels.channels()}
            except StorageError as exc:
                log.warning("could not read the channels; using what was read before: %s", exc)
        return self._known.get(channel_id)
