"""Channel ids in the one form we store: Telethon's marked form (see the package docstring)."""

from __future__ import annotations

from channel_parser.domain.channels import CHANNEL_MARK

__all__ = ["CHANNEL_MARK", "mark_channel", "mark_chat", "parse_from_id"]

BROADCAST_TYPES = frozenset({"public_channel", "private_channel"})
SUPERGROUP_TYPES = frozenset({"public_supergroup", "private_supergroup"})
# Chats with -100… ids: channels and supergroups alike.
CHANNEL_TYPES = BROADCAST_TYPES | SUPERGROUP_TYPES
BASIC_GROUP_TYPES = frozenset({"private_group"})
GROUP_TYPES = SUPERGROUP_TYPES | BASIC_GROUP_TYPES  # imported only when asked (--groups)


def mark_channel(bare_id: int) -> int:
    """1234567890 -> -1001234567890 (an id already marked is returned as it is)."""
    if bare_id < 0:
        return bare_id
    return -(CHANNEL_MARK + bare_id)


def mark_chat(bare_id: int, chat_type: str) -> int:
    """The marked id of an exported chat, from its bare ``id`` and its ``type``."""
    if chat_type in CHANNEL_TYPES:
        return mark_channel(bare_id)
    if chat_type in BASIC_GROUP_TYPES:
        return -abs(bare_id)
    return bare_id  # personal_chat, bot_chat, saved_messages: a user id


def parse_from_id(value: object) -> tuple[str, int] | None:
    """``"channel123"`` -> ("channel", 123), ``"user5"`` -> ("user", 5); an old export's bare
    number -> ("", n); anything else -> None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return "", value
    if not isinstance(value, str):
        return None
    kind = value.rstrip("0123456789")
    digits = value[len(kind) :]
    if not digits:
        return None
    return kind, int(digits)
