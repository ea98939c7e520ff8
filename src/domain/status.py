"""The lifecycle states of an incoming message, stored lowercase (the rules about them
are in message_rules), and the spellings of them a store accepts."""

from __future__ import annotations

import enum
from collections.abc import Iterable


class MessageStatus(enum.StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    RETRY = "retry"
    DONE = "done"
    ERROR = "error"


def spellings(status: MessageStatus) -> tuple[str, ...]:
    """How a status may be written in a stored document: as we write it (lowercase), and
    as a person editing the database by hand may (SPEC.md's FAQ writes ``PENDING``)."""
    return (status.value, status.value.upper(), status.value.capitalize())


def all_spellings(statuses: Iterable[MessageStatus]) -> tuple[str, ...]:
    """Every spelling of every status in *statuses*, in a stable order."""
    return tuple(spelling for status in sorted(statuses) for spelling in spellings(status))


_BY_SPELLING = {spelling: status for status in MessageStatus for spelling in spellings(status)}


def parse_status(raw: object) -> MessageStatus:
    """The status a stored value spells; ValueError for anything else (an unreadable
    document, which the stores skip and count instead of failing on)."""
    found = _BY_SPELLING.get(raw) if isinstance(raw, str) else None
    if found is None:
        raise ValueError(f"{raw!r} is not a message status (one of {', '.join(MessageStatus)})")
    return found
