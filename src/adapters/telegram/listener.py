"""The Telegram side of `run`: connect the session, read the channels, notice a lost
connection. ListenerLease (application) decides when this process may do it."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from channel_parser.adapters.telegram.client import session_file
from channel_parser.application.errors import ConfigurationError


class TelegramListener:
    def __init__(self, client: Any, source: Any, session: Path) -> None:
        self._client = client  # telethon.TelegramClient (or a test's stand-in)
        self._source = source  # TelethonPostSource
        self._session = session_file(session)

    async def listen(self) -> None:
        """Connect, read until cancelled; raise when the connection is lost for good."""
        await self._client.connect()
        try:
            if not await self._client.is_user_authorized():
                raise ConfigurationError(
                    f"TELEGRAM_SESSION {self._session}: not logged in; run `channel-parser login`"
                )
            running = asyncio.ensure_future(self._source.run())
            lost = asyncio.ensure_future(self._client.disconnected)
            await asyncio.wait({running, lost}, return_when=asyncio.FIRST_COMPLETED)
            if running.done():
                running.result()
                return
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
            raise ConnectionError("the connection to Telegram was lost and not restored")
        finally:
            await self._client.disconnect()
