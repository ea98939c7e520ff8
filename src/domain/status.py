"""The lifecycle states of an incoming message, stored lowercase."""

from __future__ import annotations

import enum


class MessageStatus(enum.StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    RETRY = "retry"
    DONE = "done"
    ERROR = "error"

    @property
    def waiting(self) -> bool:
        """Whether a message in this state waits to be (re)parsed."""
        return self in (MessageStatus.PENDING, MessageStatus.RETRY)
