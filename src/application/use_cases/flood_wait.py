"""Tell the admins about a long Telegram flood wait: one channel's reading is held."""

from __future__ import annotations

from datetime import timedelta

from channel_parser.application import notifications
from channel_parser.application.ports.clock import Clock
from channel_parser.application.use_cases.channel_availability import ChannelName
from channel_parser.application.use_cases.notify_admins import NotifyAdmins
from channel_parser.domain.failures import NotificationKind

# Shorter waits are routine (Telethon sleeps through those under a minute by itself).
TELL_AFTER = timedelta(minutes=5)


class TellFloodWait:
    def __init__(
        self, notify: NotifyAdmins, clock: Clock, tell_after: timedelta = TELL_AFTER
    ) -> None:
        self._notify = notify
        self._clock = clock
        self._tell_after = tell_after

    async def __call__(self, channel: ChannelName, seconds: int, request: str) -> bool:
        """True when the admins are told (a wait longer than *tell_after*, not throttled:
        at most one such notice an hour, however many channels meet the same wait)."""
        if timedelta(seconds=seconds) <= self._tell_after:
            return False
        now = self._clock.now()
        return await self._notify(
            NotificationKind.TELEGRAM_FLOOD_WAIT,
            lambda: notifications.telegram_flood_wait(
                now, channel.ref, channel.channel_id, seconds, request
            ),
        )
