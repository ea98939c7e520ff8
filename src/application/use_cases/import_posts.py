"""Store the posts of an export (already read and validated) and count what happened."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import attrs

from channel_parser.application.ports.storage import IngestOutcome, NewPost
from channel_parser.application.use_cases.ingest import IngestPost


@attrs.frozen
class SkippedPost:
    """A message of the export that is not a post to parse, and why."""

    channel_id: int
    message_id: int
    reason: str  # "service message", "no text", ...


ExportItem = NewPost | SkippedPost

Progress = Callable[[int, int], None]  # (items done, items in all)


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
    """Deliver every post of an export through IngestPost (idempotent), counting the rest."""

    def __init__(self, ingest: IngestPost) -> None:
        self._ingest = ingest

    async def __call__(
        self, items: Sequence[ExportItem], progress: Progress | None = None
    ) -> ImportSummary:
        outcomes: Counter[IngestOutcome] = Counter()
        skipped: Counter[str] = Counter()
        total = len(items)
        for done, item in enumerate(items, start=1):
            if isinstance(item, SkippedPost):
                skipped[item.reason] += 1
            else:
                outcomes[await self._ingest(item)] += 1
            if progress is not None:
                progress(done, total)
        return ImportSummary(
            stored=outcomes[IngestOutcome.STORED],
            already_there=outcomes[IngestOutcome.UNCHANGED],
            updated=outcomes[IngestOutcome.UPDATED],
            requeued=outcomes[IngestOutcome.REQUEUED],
            skipped=dict(sorted(skipped.items())),
        )
