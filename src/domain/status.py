"""The lifecycle states of an incoming message, stored lowercase (the rules about them
are in message_rules)."""

from __future__ import annotations

import enum


class MessageStatus(enum.StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    RETRY = "retry"
    DONE = "done"
    ERROR = "error"
