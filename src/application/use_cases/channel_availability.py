"""Record whether a configured channel can be read, and tell the admins when that changes.

The Telegram source reports what it found; the rule of telling lives here: the registry
says whether the state changed (so neither a restart nor a second look tells it again),
and the notification goes through NotifyAdmins (throttled, counted, kept in the outbox).
A channel never looked up successfully has no id to record: the caller says what it
saw last in this process (*was*).
"""

from __future__ import annotations

import logging

import attrs

from channel_parser.application import notifications
from channel_parser.application.ports.clock import Clock
from channel_parser.application.ports.storage import ChannelRegistry
from channel_parser.application.use_cases.notify_admins import NotifyAdmins
from channel_parser.domain.failures import NotificationKind

log = logging.getLogger(__name__)


@attrs.frozen
class ChannelName:
    """A configured channel as the admins know it."""

    ref: str  # as configured: "@name", a t.me link, an id
    channel_id: int | None = None  # marked; None until looked up
    title: str | None = None
    username: str | None = None  # a public channel's, for t.me links of exported results


class RecordChannelAvailability:
    def __init__(self, registry: ChannelRegistry, notify: NotifyAdmins, clock: Clock) -> None:
        self._registry = registry
        self._notify = notify
        self._clock = clock

    async def __call__(
        self,
        channel: ChannelName,
        available: bool,
        reason: str | None = None,
        *,
        hint: str | None = None,
        was: bool | None = None,
    ) -> bool:
        """Record it; True when the admins were told (the state changed)."""
        now = self._clock.now()
        if available:
            return await self._available(channel, was)
        if channel.channel_id is not None:
            changed = await self._registry.set_availability(
                channel.channel_id,
                False,
                now,
                reason=reason,
                title=channel.title,
                username=channel.username,
            )
        else:
            changed = was is not False
        log.warning("channel %s unavailable: %s", channel.ref, reason)
        if changed:
            why = reason or "—"
            await self._notify(
                NotificationKind.CHANNEL_UNAVAILABLE,
                lambda: notifications.channel_unavailable(
                    now, channel.ref, channel.channel_id, channel.title, why, hint
                ),
            )
        return changed

    async def _available(self, channel: ChannelName, was: bool | None) -> bool:
        assert channel.channel_id is not None, "a readable channel has an id"
        now = self._clock.now()
        was_unavailable = was is False or channel.channel_id in await self._registry.unavailable()
        await self._registry.set_availability(
            channel.channel_id, True, now, title=channel.title, username=channel.username
        )
        if not was_unavailable:
            return False
        log.info("channel %s available again", channel.ref)
        await self._notify(
            NotificationKind.CHANNEL_AVAILABLE,
            lambda: notifications.channel_available(
                now, channel.ref, channel.channel_id, channel.title
            ),
        )
        return True
