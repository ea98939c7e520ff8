"""A channel named by its public username (``@name``), as the registry knows it."""

from __future__ import annotations

from channel_parser.application.ports.storage import ChannelRegistry


class FindChannel:
    def __init__(self, channels: ChannelRegistry) -> None:
        self._channels = channels

    async def __call__(self, username: str) -> int | None:
        """The channel id of *username* (``@`` optional, any case); None when unknown."""
        wanted = username.removeprefix("@").lower()
        for info in await self._channels.channels():
            if info.username is not None and info.username.lower() == wanted:
                return info.channel_id
        return None
