"""One post as it stands: its text, status, retries, last error, result and cost."""

from __future__ import annotations

from channel_parser.application.ports.storage import ChannelRegistry, MessageRepository
from channel_parser.application.use_cases.export_results import ExportedPost
from channel_parser.domain.message import MessageKey


class ShowMessage:
    def __init__(self, messages: MessageRepository, channels: ChannelRegistry) -> None:
        self._messages = messages
        self._channels = channels

    async def __call__(self, key: MessageKey) -> ExportedPost | None:
        message = await self._messages.get(key)
        if message is None:
            return None
        infos = {info.channel_id: info for info in await self._channels.channels()}
        return ExportedPost(message, infos.get(key.channel_id))
