"""ImportPosts with the in-memory store: idempotent, counted, with progress."""

from __future__ import annotations

from pathlib import Path

from channel_parser.adapters.telegram.export import NO_TEXT, SERVICE, UNSUPPORTED, read_export
from channel_parser.application.ports.storage import NewPost
from channel_parser.application.use_cases.import_posts import ImportPosts, SkippedPost
from channel_parser.application.use_cases.ingest import IngestPost
from channel_parser.domain.message import MessageKey
from tests.fakes.clock import FakeClock
from tests.fakes.storage import InMemoryMessageRepository

DATA = Path(__file__).resolve().parents[2] / "data" / "exports"


def make() -> tuple[ImportPosts, InMemoryMessageRepository, list[int]]:
    repo = InMemoryMessageRepository()
    woken: list[int] = []
    ingest = IngestPost(repo, FakeClock(), on_stored=lambda: woken.append(1))
    return ImportPosts(ingest), repo, woken


async def test_import_stores_posts_and_counts_skips_then_second_import_adds_nothing() -> None:
    use_case, repo, woken = make()
    items = read_export(DATA / "single_channel.json").items
    first = await use_case(items)
    assert (first.stored, first.already_there, first.updated) == (3, 0, 0)
    assert first.skipped == {NO_TEXT: 1, SERVICE: 2, UNSUPPORTED: 1}
    assert len(repo.messages) == 3
    assert len(woken) == 3

    second = await use_case(items)
    assert (second.stored, second.already_there, second.updated) == (0, 3, 0)
    assert second.posts == 3
    assert second.skipped_total == 4
    assert len(repo.messages) == 3
    assert len(woken) == 3  # nothing new: the workers are not woken


async def test_changed_text_of_an_unparsed_post_is_updated() -> None:
    use_case, repo, _ = make()
    await use_case([NewPost(-1001, 1, "old text")])
    summary = await use_case([NewPost(-1001, 1, "new text")])
    assert summary.updated == 1
    assert repo.messages[MessageKey(-1001, 1)].text == "new text"


async def test_progress_is_reported_for_every_item() -> None:
    use_case, _, _ = make()
    seen: list[tuple[int, int]] = []
    items = [NewPost(-1001, 1, "a"), SkippedPost(-1001, 2, SERVICE), NewPost(-1001, 3, "b")]
    await use_case(items, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)]
