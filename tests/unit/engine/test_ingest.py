"""IngestPost: blank posts are never stored (so never sent to the LLM)."""

from __future__ import annotations

import pytest

from channel_parser.application.ports.storage import IngestOutcome, NewPost
from channel_parser.application.use_cases.ingest import IngestPost, is_blank
from channel_parser.domain.message import MessageKey
from tests.fakes.clock import FakeClock
from tests.fakes.storage import InMemoryMessageRepository

BLANK = ["", " ", "\n\t  \r\n", "\u00a0\u3000", "\u200b\u200c\u200d\u2060\ufeff", " \u200f\u200e "]


def make() -> tuple[IngestPost, InMemoryMessageRepository, list[int]]:
    repo = InMemoryMessageRepository()
    woken: list[int] = []
    return IngestPost(repo, FakeClock(), on_stored=lambda: woken.append(1)), repo, woken


@pytest.mark.parametrize("text", BLANK)
async def test_a_blank_post_is_skipped_not_stored_and_wakes_no_one(text: str) -> None:
    ingest, repo, woken = make()
    assert await ingest(NewPost(-1001, 1, text)) is IngestOutcome.SKIPPED
    assert repo.messages == {} and woken == []


async def test_an_edit_to_blank_keeps_the_text_that_was_there() -> None:
    ingest, repo, _ = make()
    assert await ingest(NewPost(-1001, 1, "настоящий текст")) is IngestOutcome.STORED
    assert await ingest(NewPost(-1001, 1, "  \u200b ")) is IngestOutcome.SKIPPED
    assert repo.messages[MessageKey(-1001, 1)].text == "настоящий текст"


@pytest.mark.parametrize(
    "text",
    [
        "a",
        " .",
        "👍",
        "\u200b😀\u200b",
        "👨\u200d👩\u200d👧",
        "\u05e9\u05dc\u05d5\u05dd",
        "e\u0301",
    ],
)
async def test_any_visible_character_is_a_post(text: str) -> None:
    ingest, repo, woken = make()
    assert not is_blank(text)
    assert await ingest(NewPost(-1001, 1, text)) is IngestOutcome.STORED
    assert repo.messages[MessageKey(-1001, 1)].text == text and woken == [1]
