"""The streaming Telegram Desktop export reader on exports of our own making
(tests/data/exports) and on generated ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

import channel_parser.adapters.telegram.json_stream as json_stream
from channel_parser.adapters.telegram.export import (
    A_GROUP,
    NO_TEXT,
    NOT_A_CHANNEL,
    NOT_CHOSEN,
    SERVICE,
    UNSUPPORTED,
    ChatChoice,
    ExportFormatError,
    ExportReader,
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


def test_text_given_as_pieces_is_joined_keeping_the_hidden_link() -> None:
    """Issue 17: "Apply: form" kept its URL nowhere; the URL is what the post is for."""
    found = posts(read_export(DATA / "single_channel.json").items)
    assert found[1].text == (
        "Senior Backend Engineer — asyncio, PostgreSQL. "
        "Apply: [form](https://example.com/apply) #remote"
    )


def test_hidden_links_and_mentions_of_users_keep_where_they_point() -> None:
    document = (
        '{"id": 5, "messages": [{"id": 1, "text": ['
        '"Python dev wanted. ", {"type": "text_link", "text": "Apply here", '
        '"href": "https://jobs.example/7"}, ". Ask ", {"type": "mention_name", "text": "Anna", '
        '"user_id": 4242}, " or ", {"type": "mention", "text": "@hr_bob"}, " ", '
        '{"type": "bold", "text": "today"}]}, '
        '{"id": 2, "text": [{"type": "text_link", "text": " ", "href": "https://x.example"}]}]}'
    )
    found = posts(parse_export(document).items)
    assert [p.text for p in found] == [
        "Python dev wanted. [Apply here](https://jobs.example/7). "
        "Ask [Anna](tg://user?id=4242) or @hr_bob today"
    ]  # a link around nothing but a space is still a blank post


def test_caption_of_a_photo_is_the_text_and_media_without_text_is_skipped() -> None:
    items = read_export(DATA / "single_channel.json").items
    assert posts(items)[2].text == "Фото с митапа: доклад про 1302 и backoff 🚀"
    assert skips(items) == {1: SERVICE, 4: NO_TEXT, 6: SERVICE, 7: UNSUPPORTED}


def test_whole_account_export_takes_broadcast_channels_only_by_default() -> None:
    """Issue 13: group chat lines such as "lol" became posts and went to the LLM."""
    contents = read_export(DATA / "whole_account.json")
    found = posts(contents.items)
    assert [(p.channel_id, p.message_id) for p in found] == [
        (-1002223334445, 100),
        (-1002223334445, 101),
        (-1009998887776, 7),  # a channel the account has left is still read
    ]
    assert found[1].text == "Read more: https://example.org/news/1"
    assert skips(contents.items) == {10: NOT_A_CHANNEL, 5: NOT_A_CHANNEL, 1: A_GROUP, 2: A_GROUP}
    assert [(c.type, c.imported) for c in contents.chats] == [
        ("saved_messages", False),
        ("public_channel", True),
        ("personal_chat", False),
        ("private_supergroup", False),
        ("private_channel", True),
    ]


def test_groups_when_asked() -> None:
    found = posts(read_export(DATA / "whole_account.json", ChatChoice.of(groups=True)).items)
    assert (-1005556667778, 2) in [(p.channel_id, p.message_id) for p in found]
    assert {p.channel_id for p in found} == {-1002223334445, -1005556667778, -1009998887776}


def test_chats_picked_by_name_or_id() -> None:
    for picked in (["news digest (TEST)"], ["2223334445"], ["-1002223334445"]):
        contents = read_export(DATA / "whole_account.json", ChatChoice.of(chats=picked))
        assert {p.channel_id for p in posts(contents.items)} == {-1002223334445}
        assert skips(contents.items)[7] == NOT_CHOSEN
    both = ChatChoice.of(chats=["Team chat (test)", "9998887776"])  # a group, by name: asked
    found = posts(read_export(DATA / "whole_account.json", both).items)
    assert {p.channel_id for p in found} == {-1005556667778, -1009998887776}


def test_whole_account_export_with_all_chats_takes_saved_messages_too() -> None:
    found = posts(read_export(DATA / "whole_account.json", ChatChoice.of(all_chats=True)).items)
    assert (777000001, 10) in [(p.channel_id, p.message_id) for p in found]
    assert (888000002, 5) in [(p.channel_id, p.message_id) for p in found]


def test_a_single_chat_export_is_taken_whatever_its_type() -> None:
    document = '{"id": 5, "type": "private_supergroup", "messages": [{"id": 1, "text": "a"}]}'
    assert [p.channel_id for p in posts(parse_export(document).items)] == [-1000000000005]


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
    # the key after the missing comma ends at line 8, column 76
    assert "malformed.json: line 8, column 76" in message
    assert "after key and value, inside map, I expect ',' or '}'" in message


def test_truncated_file_says_so_with_the_position() -> None:
    with pytest.raises(ExportFormatError) as caught:
        read_export(DATA / "truncated.json")
    assert "line 48, column 48" in str(caught.value)  # where the file ends
    assert "truncated" in str(caught.value)


def test_an_error_past_the_first_chunk_is_placed_exactly(tmp_path: Path) -> None:
    lines = [f'{{"id": {i}, "text": "post number {i}"}},' for i in range(1, 5000)]
    body = '{"id": 5, "messages": [\n' + "\n".join(lines) + '\n{"id": 5000 "text": "x"}]}'
    path = tmp_path / "result.json"
    path.write_text(body, encoding="utf-8")
    assert path.stat().st_size > 2 * json_stream.CHUNK
    # the key after the missing comma ends at column 18 of line 5001
    with pytest.raises(ExportFormatError, match=r"line 5001, column 18: parse error"):
        read_export(path)


def test_a_byte_order_mark_is_read_past(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_bytes(b'\xef\xbb\xbf{"id": 5, "messages": [{"id": 1, "text": "hi"}]}')
    assert [p.text for p in posts(read_export(path).items)] == ["hi"]


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ('{"id": 5, "messages": [{"id": 9223372036854775808, "text": "a"}]}', "messages[0].id"),
        ('{"id": 5, "messages": [{"id": 0, "text": "a"}]}', "messages[0].id"),
        ('{"id": 99999999999999999999, "messages": [{"id": 1, "text": "a"}]}', "id"),
        (
            '{"messages": [{"id": 1, "from_id": "channel99999999999999999", "text": "a"}]}',
            "messages[0].from_id",
        ),
    ],
)
def test_ids_out_of_telegrams_ranges_are_refused(document: str, where: str) -> None:
    """Issue 12: an id >= 2^63 ended in an OverflowError (a traceback) when stored."""
    with pytest.raises(ExportFormatError, match="out of range") as caught:
        parse_export(document, "result.json")
    assert f"result.json: {where}" in str(caught.value)


def test_an_endless_value_is_refused_within_a_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(json_stream, "MAX_VALUE_BYTES", 256 * 1024)
    path = tmp_path / "result.json"
    path.write_text('{"id": 5, "messages": [{"id": 1, "text": "' + "x" * 2_000_000 + '"}]}')
    with pytest.raises(ExportFormatError, match="a single value: larger than"):
        read_export(path)


def test_nul_bytes_are_not_json(tmp_path: Path) -> None:
    path = tmp_path / "zeros.json"
    path.write_bytes(bytes(3 * json_stream.CHUNK))
    with pytest.raises(ExportFormatError, match=r"line 1, column 1: lexical error"):
        read_export(path)


def test_items_are_streamed_one_at_a_time() -> None:
    reader = ExportReader(DATA / "single_channel.json")
    assert reader.scan()[0].messages == 7 and reader.total == 7
    items = reader.items()
    assert not isinstance(items, list)
    assert next(items).message_id == 1


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
