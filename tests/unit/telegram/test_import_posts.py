"""ImportPosts with the in-memory store: idempotent, counted, in batches, with progress."""

from __future__ import annotations

from pathlib import Path

from channel_parser.adapters.telegram.export import NO_TEXT, SERVICE, UNSUPPORTED, ExportReader
from channel_parser.application.ports.storage import NewPost
from channel_parser.application.use_cases.import_posts import ImportPosts, SkippedPost
from channel_parser.domain.message import MessageKey
from channel_parser.domain.message_rules import EDITS_IN_PLACE
from tests.fakes.clock import FakeClock
from tests.fakes.storage import InMemoryMessageRepository

DATA = Path(__file__).resolve().parents[2] / "data" / "exports"


class CountingRepository(InMemoryMessageRepository):
    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    async def add_many(self, posts, now, edits=EDITS_IN_PLACE):  # type: ignore[no-untyped-def]
        self.batches.append(len(posts))
        return await super().add_many(posts, now, edits)


def make(batch: int = 500) -> tuple[ImportPosts, CountingRepository, list[int]]:
    repo = CountingRepository()
    woken: list[int] = []
    return ImportPosts(repo, FakeClock(), lambda: woken.append(1), batch=batch), repo, woken


async def test_import_stores_posts_and_counts_skips_then_second_import_adds_nothing() -> None:
    use_case, repo, woken = make()
    reader = ExportReader(DATA / "single_channel.json")
    reader.scan()
    first = await use_case(reader.items())
    assert (first.stored, first.already_there, first.updated) == (3, 0, 0)
    assert first.skipped == {NO_TEXT: 1, SERVICE: 2, UNSUPPORTED: 1}
    assert len(repo.messages) == 3
    assert len(woken) == 1  # one batch stored, the workers woken once

    second = await use_case(reader.items())  # streamed again from the file
    assert (second.stored, second.already_there, second.updated) == (0, 3, 0)
    assert second.posts == 3
    assert second.skipped_total == 4
    assert len(repo.messages) == 3
    assert len(woken) == 1  # nothing new: the workers are not woken


async def test_changed_text_of_an_unparsed_post_is_updated() -> None:
    use_case, repo, _ = make()
    await use_case([NewPost(-1001, 1, "old text")])
    summary = await use_case([NewPost(-1001, 1, "new text")])
    assert summary.updated == 1
    assert repo.messages[MessageKey(-1001, 1)].text == "new text"


async def test_posts_go_in_batches_and_progress_is_reported() -> None:
    use_case, repo, woken = make(batch=4)
    items = [NewPost(-1001, i, f"post {i}") for i in range(1, 11)]
    items.insert(3, SkippedPost(-1001, 99, SERVICE))
    items.append(NewPost(-1001, 50, "\u200b "))  # blank: never stored, as IngestPost rules
    seen: list[int] = []
    summary = await use_case(iter(items), progress=seen.append)
    assert repo.batches == [4, 4, 2]
    assert summary.stored == 10 and summary.skipped == {SERVICE: 1, "blank text": 1}
    assert seen == [4, 8, 12, 12]
    assert len(woken) == 3
