"""Store a post idempotently and wake the workers."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

from channel_parser.application.ports.clock import Clock
from channel_parser.application.ports.storage import IngestOutcome, MessageRepository, NewPost
from channel_parser.domain.message_rules import EDITS_REPARSED, EditRule


class IngestPost:
    def __init__(
        self,
        messages: MessageRepository,
        clock: Clock,
        on_stored: Callable[[], None] | None = None,
        edits: EditRule = EDITS_REPARSED,
    ) -> None:
        self._messages = messages
        self._clock = clock
        self._on_stored = on_stored  # wakes the local worker at once (no polling)
        self._edits = edits  # REPARSE_EDITS: EDITS_REPARSED (the default) or EDITS_IN_PLACE

    async def __call__(self, post: NewPost) -> IngestOutcome:
        if is_blank(post.text):  # nothing to parse; an edit to blank keeps the old text
            return IngestOutcome.SKIPPED
        outcome = await self._messages.add(post, self._clock.now(), self._edits)
        if outcome is not IngestOutcome.UNCHANGED and self._on_stored is not None:
            self._on_stored()
        return outcome


def is_blank(text: str) -> bool:
    """Only whitespace and invisible format characters (zero-width space, joiners, BOM)."""
    return all(ch.isspace() or unicodedata.category(ch) == "Cf" for ch in text)
