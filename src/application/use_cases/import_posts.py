"""Store the posts of an export (streamed, already validated) in batches, and count what
happened. Memory stays bounded whatever the export's size: one batch at a time."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

import attrs

from channel_parser.application.ports.clock import Clock
from channel_parser.application.ports.storage import IngestOutcome, MessageRepository, NewPost
from channel_parser.application.use_cases.ingest import is_blank
from channel_parser.domain.message_rules import EDITS_IN_PLACE, EditRule

BATCH = 500  # posts stored in one go (one transaction on SQLite)


@attrs.frozen
class SkippedPost:
    """A message of the export that is not a post to parse, and why."""

    channel_id: int
    message_id: int
    reason: str  # "service message", "no text", ...


ExportItem = NewPost | SkippedPost

Progress = Callable[[int], None]  # items done so far


@attrs.frozen
class ImportSummary:
    stored: int = 0  # new posts
    already_there: int = 0  # the same post was stored before (a second import)
    updated: int = 0  # stored before with another text, not parsed yet: the text replaced
    requeued: int = 0  # stored and parsed before with another text: to be parsed again
    skipped: dict[str, int] = attrs.field(factory=dict)  # reason -> how many

    @property
    def posts(self) -> int:
        return self.stored + self.already_there + self.updated + self.requeued

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


class ImportPosts:
    """Store every post idempotently (as IngestPost does, a batch at a time), count the rest,
    and wake the workers when anything new was stored."""

    def __init__(
        self,
        messages: MessageRepository,
        clock: Clock,
        on_stored: Callable[[], None] | None = None,
        batch: int = BATCH,
        edits: EditRule = EDITS_IN_PLACE,
    ) -> None:
        self._messages = messages
        self._clock = clock
        self._on_stored = on_stored
        self._batch = batch
        self._edits = edits  # an edit of a parsed post: kept out, or parsed again

    async def __call__(
        self, items: Iterable[ExportItem], progress: Progress | None = None
    ) -> ImportSummary:
        outcomes: Counter[IngestOutcome] = Counter()
        skipped: Counter[str] = Counter()
        batch: list[NewPost] = []
        done = 0
        for item in items:
            done += 1
            if isinstance(item, SkippedPost):
                skipped[item.reason] += 1
            elif is_blank(item.text):  # nothing to parse (IngestPost's rule)
                outcomes[IngestOutcome.SKIPPED] += 1
            else:
                batch.append(item)
            if len(batch) >= self._batch:
                outcomes.update(await self._store(batch))
                batch = []
            if progress is not None and done % self._batch == 0:
                progress(done)
        if batch:
            outcomes.update(await self._store(batch))
        if progress is not None:
            progress(done)
        if outcomes[IngestOutcome.SKIPPED]:
            skipped["blank text"] += outcomes[IngestOutcome.SKIPPED]
        return ImportSummary(
            stored=outcomes[IngestOutcome.STORED],
            already_there=outcomes[IngestOutcome.UNCHANGED],
            updated=outcomes[IngestOutcome.UPDATED],
            requeued=outcomes[IngestOutcome.REQUEUED],
            skipped=dict(sorted(skipped.items())),
        )

    async def _store(self, batch: list[NewPost]) -> list[IngestOutcome]:
        outcomes = await self._messages.add_many(batch, self._clock.now(), self._edits)
        if self._on_stored is not None and any(o is not IngestOutcome.UNCHANGED for o in outcomes):
            self._on_stored()
        return outcomes
