"""The channels to read, as configured: a username, a t.me link, or a numeric id."""

from __future__ import annotations

import re

import attrs
from telethon import utils

from channel_parser.adapters.telegram.ids import mark_channel
from channel_parser.application.errors import ConfigurationError

_NUMBER = re.compile(r"^-?\d+$")


@attrs.frozen
class ChannelRef:
    text: str  # as configured, for messages to the admins
    lookup: str | int  # what get_entity is given
    known_id: int | None  # the marked id, when the configuration says it


def parse_channel_ref(text: str) -> ChannelRef:
    """``@name``, ``name``, ``https://t.me/name`` or ``t.me/+invite`` are looked up as they
    are; a number is a channel id, bare (``1234567890``) or marked (``-1001234567890``)."""
    text = text.strip()
    if _NUMBER.match(text):
        marked = mark_channel(int(text))
        return ChannelRef(text, marked, marked)
    username, is_invite = utils.parse_username(text)
    if username is None:
        raise ConfigurationError(
            f"setting TELEGRAM_CHANNELS: {text!r} is not a username, t.me link or channel id"
        )
    return ChannelRef(text, text if is_invite else f"@{username}", None)
