"""A reader for Telegram Desktop's ``result.json`` export.

Reads a single-chat export (``{"name", "type", "id", "messages"}``) or a whole-account
export (``{"chats": {"list": [...]}, "left_chats": {"list": [...]}}``) completely and
validates it before anything is stored: a malformed or truncated file raises
:class:`ExportFormatError` naming the line and column (or, for a well-formed file of the
wrong shape, the JSON path), so an import never stops half-way through.

Channel ids are stored in Telethon's marked form (``-100`` + the export's bare ``id``;
see ``adapters.telegram``), so an imported post and the same post read live are one
message. Text given as an array of pieces is joined into its plain text; old exports
without ``date_unixtime`` have their local ``date`` read in *naive_tz* (UTC unless told).
Lone surrogates (which a JSON ``\\ud83d`` escape can produce) are replaced by U+FFFD.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

import attrs

from channel_parser.adapters.telegram.ids import (
    CHANNEL_TYPES,
    mark_channel,
    mark_chat,
    parse_from_id,
)
from channel_parser.application.ports.storage import NewPost
from channel_parser.application.use_cases.import_posts import ExportItem, SkippedPost

SERVICE = "service message"
UNSUPPORTED = "unsupported message"
NO_TEXT = "no text (media only or empty)"
NOT_A_CHANNEL = "chat is not a channel"

_SURROGATE = re.compile("[\ud800-\udfff]")


class ExportFormatError(ValueError):
    """The file is not a readable Telegram Desktop export; the message says where."""

    def __init__(self, source: str, where: str, problem: str) -> None:
        super().__init__(f"{source}: {where}: {problem}")
        self.where = where
        self.problem = problem


@attrs.frozen
class ExportChat:
    channel_id: int  # marked
    name: str
    type: str
    messages: int
    imported: bool  # False: left out (a whole-account export's non-channel chat)


@attrs.frozen
class ExportContents:
    items: list[ExportItem]
    chats: list[ExportChat]


def read_export(path: Path, *, all_chats: bool = False, naive_tz: tzinfo = UTC) -> ExportContents:
    """Read and validate the export at *path* (see the module docstring).

    Of a whole-account export only channels and supergroups are taken unless *all_chats*;
    the messages of the chats left out are counted as skipped."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, column = _line_column(raw[: exc.start].decode("utf-8", "replace"))
        raise ExportFormatError(
            str(path), f"line {line}, column {column}", "not UTF-8 text"
        ) from None
    return parse_export(text, str(path), all_chats=all_chats, naive_tz=naive_tz)


def parse_export(
    text: str, source: str = "<export>", *, all_chats: bool = False, naive_tz: tzinfo = UTC
) -> ExportContents:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        problem = exc.msg
        if "\n" not in text[exc.pos :].rstrip():  # the error is on the file's last line
            problem += " (the file ends here: it looks truncated)"
        raise ExportFormatError(source, f"line {exc.lineno}, column {exc.colno}", problem) from None
    except RecursionError:
        raise ExportFormatError(source, "top level", "nested too deeply") from None
    return _Reader(source, all_chats, naive_tz).document(document)


def _line_column(prefix: str) -> tuple[int, int]:
    line = prefix.count("\n") + 1
    return line, len(prefix) - (prefix.rfind("\n") + 1) + 1


def clean(value: str) -> str:
    """Replace lone surrogates, which cannot be encoded, by U+FFFD."""
    return _SURROGATE.sub("\ufffd", value)


@attrs.define
class _Reader:
    source: str
    all_chats: bool
    naive_tz: tzinfo

    def fail(self, where: str, problem: str) -> ExportFormatError:
        return ExportFormatError(self.source, where or "top level", problem)

    def document(self, doc: Any) -> ExportContents:
        if not isinstance(doc, dict):
            raise self.fail("", "expected a JSON object")
        items: list[ExportItem] = []
        chats: list[ExportChat] = []
        if "messages" in doc:
            chats.append(self.chat(doc, "", items, take=True))
        elif isinstance(doc.get("chats"), dict):
            for section in ("chats", "left_chats"):
                for where, chat in self.chat_list(doc, section):
                    take = self.all_chats or str(chat.get("type")) in CHANNEL_TYPES
                    chats.append(self.chat(chat, where, items, take=take))
        else:
            raise self.fail("", 'neither "messages" nor "chats.list": not a Telegram export')
        return ExportContents(items, chats)

    def chat_list(self, doc: dict[str, Any], section: str) -> Iterator[tuple[str, Any]]:
        block = doc.get(section)
        if block is None:
            return
        listed = block.get("list") if isinstance(block, dict) else None
        if not isinstance(listed, list):
            raise self.fail(section, 'expected an object with a "list" array')
        for index, chat in enumerate(listed):
            where = f"{section}.list[{index}]"
            if not isinstance(chat, dict):
                raise self.fail(where, "expected a chat object")
            yield where, chat

    def chat(
        self, chat: dict[str, Any], where: str, items: list[ExportItem], take: bool
    ) -> ExportChat:
        prefix = f"{where}." if where else ""
        messages = chat.get("messages", [])
        if not isinstance(messages, list):
            raise self.fail(f"{prefix}messages", "expected an array")
        chat_type = str(chat.get("type", "public_channel"))
        channel_id = self.chat_id(chat, chat_type, messages, prefix)
        name = clean(str(chat.get("name") or channel_id))
        for index, message in enumerate(messages):
            item = self.message(message, channel_id, f"{prefix}messages[{index}]")
            if not take:
                item = SkippedPost(item.channel_id, item.message_id, NOT_A_CHANNEL)
            items.append(item)
        return ExportChat(channel_id, name, chat_type, len(messages), take)

    def chat_id(
        self, chat: dict[str, Any], chat_type: str, messages: list[Any], prefix: str
    ) -> int:
        bare = chat.get("id")
        if isinstance(bare, int) and not isinstance(bare, bool):
            return mark_chat(bare, chat_type)
        if bare is not None:
            raise self.fail(f"{prefix}id", f"expected an integer, got {bare!r}")
        for message in messages:  # very old exports: the channel's id only in from_id
            parsed = parse_from_id(message.get("from_id")) if isinstance(message, dict) else None
            if parsed is not None and parsed[0] == "channel":
                return mark_channel(parsed[1])
        raise self.fail(f"{prefix}id", "the chat has no id (and no message names its channel)")

    def message(self, message: Any, channel_id: int, where: str) -> ExportItem:
        if not isinstance(message, dict):
            raise self.fail(where, "expected a message object")
        message_id = message.get("id")
        if not isinstance(message_id, int) or isinstance(message_id, bool):
            raise self.fail(f"{where}.id", f"expected an integer, got {message_id!r}")
        kind = message.get("type", "message")
        if kind == "service":
            return SkippedPost(channel_id, message_id, SERVICE)
        if kind != "message":
            return SkippedPost(channel_id, message_id, UNSUPPORTED)
        text = self.text(message, where)
        if not text.strip():
            return SkippedPost(channel_id, message_id, NO_TEXT)
        return NewPost(channel_id, message_id, text, self.date(message, where))

    def text(self, message: dict[str, Any], where: str) -> str:
        key = "text" if "text" in message else "text_entities"
        value = message.get(key, "")
        if isinstance(value, str):
            return clean(value)
        if not isinstance(value, list):
            raise self.fail(f"{where}.{key}", "expected a string or an array of pieces")
        parts: list[str] = []
        for index, piece in enumerate(value):
            if isinstance(piece, str):
                parts.append(piece)
            elif isinstance(piece, dict) and isinstance(piece.get("text", ""), str):
                parts.append(piece.get("text", ""))
            else:
                raise self.fail(f"{where}.{key}[{index}]", "expected a string or a text piece")
        return clean("".join(parts))

    def date(self, message: dict[str, Any], where: str) -> datetime | None:
        unix = message.get("date_unixtime")
        if unix is not None:
            digits = str(unix) if isinstance(unix, int | str) else ""
            if not (digits.isascii() and digits.isdigit()):
                raise self.fail(f"{where}.date_unixtime", f"expected digits, got {unix!r}")
            try:
                return datetime.fromtimestamp(int(digits), UTC)
            except (OverflowError, OSError, ValueError):
                raise self.fail(f"{where}.date_unixtime", f"out of range: {unix!r}") from None
        local = message.get("date")
        if local is None:
            return None
        try:
            parsed = datetime.fromisoformat(str(local))
        except ValueError:
            raise self.fail(f"{where}.date", f"not an ISO date: {local!r}") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=self.naive_tz)
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise self.fail(f"{where}.date", f"out of range: {local!r}") from None
