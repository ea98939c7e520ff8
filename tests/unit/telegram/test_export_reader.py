"""The Telegram Desktop export reader on exports of our own making (tests/data/exports)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from channel_parser.adapters.telegram.export import (
    NO_TEXT,
    NOT_A_CHANNEL,
    SERVICE,
    UNSUPPORTED,
    ExportFormatError,
    parse_export,
    read_export,
)
from channel_parser.adapters.telegram.ids import mark_chat, parse_from_id
from channel_parser.application.ports.storage import NewPost
from channel_parser.application.use_cases.import_posts import SkippedPost

DATA = Path(__file__).resolve().parents[2] / "data" / "exports"


def posts(items: list[NewPost | SkippedPost]) -> list[NewPost]:
    return [i for i in items if isinstance(i, NewPost)]


def skips(items: list[NewPost | SkippedPost]) -> dict[int, str]:
    return {i.message_id: i.reason for i in items if isinstance(i, SkippedPost)}


def test_single_channel_export_yields_text_posts_with_marked_ids() -> None:
    contents = read_export(DATA / "single_channel.json")
    found = posts(contents.items)
    assert [p.message_id for p in found] == [2, 3, 5]
    assert {p.channel_id for p in found} == {-1001234567890}
    assert found[0].text.startswith("Ищем Python-разработчика")
    assert found[0].posted_at == datetime(2025, 11, 2, 10, 5, tzinfo=UTC)
    assert contents.chats[0].channel_id == -1001234567890
    assert contents.chats[0].name == "Вакансии Python (тест)"


def test_text_given_as_pieces_is_joined_into_plain_text() -> None:
    found = posts(read_export(DATA / "single_channel.json").items)
    assert found[1].text == ("Senior Backend Engineer — asyncio, PostgreSQL. Apply: form #remote")


def test_caption_of_a_photo_is_the_text_and_media_without_text_is_skipped() -> None:
    items = read_export(DATA / "single_channel.json").items
    assert posts(items)[2].text == "Фото с митапа: доклад про 1302 и backoff 🚀"
    assert skips(items) == {1: SERVICE, 4: NO_TEXT, 6: SERVICE, 7: UNSUPPORTED}


def test_whole_account_export_takes_channels_and_supergroups_only_by_default() -> None:
    contents = read_export(DATA / "whole_account.json")
    found = posts(contents.items)
    assert [(p.channel_id, p.message_id) for p in found] == [
        (-1002223334445, 100),
        (-1002223334445, 101),
        (-1005556667778, 2),
        (-1009998887776, 7),  # a channel the account has left is still read
    ]
    assert found[1].text == "Read more: https://example.org/news/1"
    assert skips(contents.items) == {10: NOT_A_CHANNEL, 1: SERVICE}
    assert [c.imported for c in contents.chats] == [False, True, True, True]


def test_whole_account_export_with_all_chats_takes_saved_messages_too() -> None:
    found = posts(read_export(DATA / "whole_account.json", all_chats=True).items)
    assert (777000001, 10) in [(p.channel_id, p.message_id) for p in found]


def test_old_export_without_date_unixtime_or_chat_id() -> None:
    contents = read_export(DATA / "old_format.json")
    found = posts(contents.items)
    assert [p.message_id for p in found] == [11, 12]
    assert {p.channel_id for p in found} == {-1004445556667}  # from from_id "channel4445556667"
    assert found[0].posted_at == datetime(2019, 12, 31, 23, 30, tzinfo=UTC)
    assert found[1].text == "Office closed until January 8."
    assert skips(contents.items) == {13: SERVICE}


def test_old_export_local_dates_in_a_given_zone() -> None:
    moscow = timezone(timedelta(hours=3))
    found = posts(read_export(DATA / "old_format.json", naive_tz=moscow).items)
    assert found[0].posted_at == datetime(2019, 12, 31, 20, 30, tzinfo=UTC)


def test_malformed_file_names_line_and_column() -> None:
    with pytest.raises(ExportFormatError) as caught:
        read_export(DATA / "malformed.json")
    message = str(caught.value)
    assert "malformed.json: line 8, column 62" in message
    assert "Expecting ',' delimiter" in message


def test_truncated_file_says_so_with_the_position() -> None:
    with pytest.raises(ExportFormatError) as caught:
        read_export(DATA / "truncated.json")
    assert "line 48, column 31" in str(caught.value)
    assert "truncated" in str(caught.value)


def test_not_utf8_names_the_position(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_bytes(b'{"messages": [\n  {"id": 1, "text": "\xff"}]}')
    with pytest.raises(ExportFormatError, match=r"line 2, column 22: not UTF-8"):
        read_export(path)


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ("[]", "top level: expected a JSON object"),
        ('{"name": "x"}', 'neither "messages" nor "chats.list"'),
        (
            '{"id": 1, "messages": [{"id": "7", "text": "a"}]}',
            "messages[0].id: expected an integer",
        ),
        ('{"id": 1, "messages": [{"id": 7, "text": 5}]}', "messages[0].text: expected a string"),
        ('{"id": 1, "messages": [{"id": 7, "text": [1]}]}', "messages[0].text[0]: expected"),
        ('{"id": 1, "messages": [{"id": 7, "text": "a", "date": "nope"}]}', "messages[0].date"),
        ('{"messages": [{"id": 7, "text": "a"}]}', "id: the chat has no id"),
        (
            '{"chats": {"list": [{"id": 2, "type": "public_channel", "messages": {}}]}}',
            "chats.list[0].messages: expected an array",
        ),
    ],
)
def test_wrong_shape_names_the_json_path(document: str, where: str) -> None:
    with pytest.raises(ExportFormatError, match=None) as caught:
        parse_export(document, "result.json")
    assert where in str(caught.value)


def test_lone_surrogates_are_replaced_not_a_crash() -> None:
    document = (
        '{"id": 5, "type": "public_channel", "messages": ['
        '{"id": 1, "text": ["broken \\ud83d emoji ", {"type": "bold", "text": "\\ude00"}]},'
        '{"id": 2, "text": "pair \\ud83d\\ude00 kept"}]}'
    )
    found = posts(parse_export(document).items)
    assert found[0].text == "broken \ufffd emoji \ufffd"
    assert found[1].text == "pair 😀 kept"
    found[0].text.encode("utf-8")  # would raise on a surrogate


def test_text_entities_used_when_text_is_absent() -> None:
    document = (
        '{"id": 5, "messages": [{"id": 1, "text_entities": '
        '[{"type": "plain", "text": "a "}, {"type": "bold", "text": "b"}]}]}'
    )
    assert posts(parse_export(document).items)[0].text == "a b"


def test_ids_and_from_id_forms() -> None:
    assert mark_chat(1234567890, "public_channel") == -1001234567890
    assert mark_chat(1234567890, "private_supergroup") == -1001234567890
    assert mark_chat(42, "private_group") == -42
    assert mark_chat(42, "personal_chat") == 42
    assert parse_from_id("channel123") == ("channel", 123)
    assert parse_from_id("user5") == ("user", 5)
    assert parse_from_id(77) == ("", 77)
    assert parse_from_id("nobody") is None
    assert parse_from_id(None) is None
