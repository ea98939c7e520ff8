"""A streaming reader for Telegram Desktop's ``result.json`` export.

Real channel exports reach hundreds of megabytes, so the file is never read whole: it is
parsed as a stream of JSON events (ijson, its C backend) and each message is built on its
own, in memory bounded whatever the file's size. It is read twice: ``scan`` validates the
whole file and counts each chat's messages before anything is stored (a malformed or
truncated file raises :class:`ExportFormatError` naming the line and column, or for a
file of the wrong shape the JSON path, so an import never stops half-way through), then
``items`` streams the posts to store.

A single-chat export (``{"name", "type", "id", "messages"}``) is read as it is. Of a
whole-account export (``{"chats": {"list": [...]}, "left_chats": {"list": [...]}}``) only
broadcast channels are taken by default; groups and supergroups when asked (``groups``),
every chat with ``all_chats``, or the chats named in ``chats`` (by name or id).

Channel ids are stored in Telethon's marked form (``-100`` + the export's bare ``id``;
see ``adapters.telegram``), so an imported post and the same post read live are one
message. Text given as an array of pieces is joined, hidden links kept as ``[text](url)``
(see ``rendering``); old exports without ``date_unixtime`` have their local ``date`` read
in *naive_tz* (UTC unless told). Every value has a bound: ids in Telegram's ranges, no
single value over ``json_stream.MAX_VALUE_BYTES``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Collection, Iterator
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, BinaryIO

import attrs
import ijson
from ijson.common import ObjectBuilder

from channel_parser.adapters.telegram import json_stream
from channel_parser.adapters.telegram.ids import (
    BROADCAST_TYPES,
    GROUP_TYPES,
    mark_channel,
    mark_chat,
    parse_from_id,
)
from channel_parser.adapters.telegram.rendering import export_piece
from channel_parser.application.ports.storage import NewPost
from channel_parser.application.use_cases.import_posts import ExportItem, SkippedPost

SERVICE = "service message"
UNSUPPORTED = "unsupported message"
NO_TEXT = "no text (media only or empty)"
NOT_A_CHANNEL = "chat is not a channel"
A_GROUP = "chat is a group (--groups to import it)"
NOT_CHOSEN = "chat not chosen (--chat)"

MAX_MESSAGE_ID = 2**31 - 1  # Telegram's message ids are 32-bit
MAX_CHAT_ID = 2**52  # the Bot API's bound on chat ids ("at most 52 significant bits")
MAX_DEPTH = 64  # nesting: a message is about five deep
TOO_DEEP = f"nested more than {MAX_DEPTH} deep"

_SURROGATE = re.compile("[\ud800-\udfff]")
_SECTIONS = ("chats", "left_chats")
_OPEN = frozenset({"start_map", "start_array"})
_CLOSE = frozenset({"end_map", "end_array"})


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
    imported: bool
    left_out: str | None = None  # why it is not imported


@attrs.frozen
class ChatChoice:
    """Which chats of a whole-account export are imported."""

    groups: bool = False  # groups and supergroups too
    all_chats: bool = False  # every chat, personal ones included
    chats: frozenset[str] = frozenset()  # only these, by name (any case) or id (bare or marked)

    def left_out(
        self, chat_type: str, channel_id: int, bare_id: int | None, name: str
    ) -> str | None:
        """None when the chat is imported, else why not."""
        if self.chats:
            keys = {name.casefold(), str(channel_id)} | ({str(bare_id)} if bare_id else set())
            return None if keys & self.chats else NOT_CHOSEN
        if self.all_chats or chat_type in BROADCAST_TYPES:
            return None
        if chat_type in GROUP_TYPES:
            return None if self.groups else A_GROUP
        return NOT_A_CHANNEL

    @classmethod
    def of(
        cls, *, groups: bool = False, all_chats: bool = False, chats: Collection[str] = ()
    ) -> ChatChoice:
        return cls(groups, all_chats, frozenset(c.strip().casefold() for c in chats))


def clean(value: str) -> str:
    """Replace lone surrogates, which cannot be encoded, by U+FFFD."""
    return _SURROGATE.sub("\ufffd", value)


@attrs.define
class _Chat:
    """What the scan learned of one chat (by its place in the file)."""

    where: str
    place: int = -1  # among all chats of the file
    fields: dict[str, Any] = attrs.field(factory=dict)  # id, type, name as found
    channel_from_messages: int | None = None  # old exports: the id from a from_id
    messages: int = 0
    info: ExportChat | None = None


class ExportReader:
    """``scan()`` first, then ``items()``."""

    def __init__(
        self,
        path: Path,
        choice: ChatChoice | None = None,
        *,
        naive_tz: tzinfo = UTC,
        opener: Callable[[], BinaryIO] | None = None,
    ) -> None:
        self._path = path
        self._source = str(path)
        self._choice = choice or ChatChoice()
        self._naive_tz = naive_tz
        self._open = opener or (lambda: path.open("rb"))
        self._chats: list[_Chat] | None = None
        self._single = False

    @property
    def chats(self) -> list[ExportChat]:
        assert self._chats is not None, "scan() first"
        return [c.info for c in self._chats if c.info is not None]

    @property
    def total(self) -> int:
        """Messages to go through in ``items()``."""
        return sum(chat.messages for chat in self.chats)

    # -- the two passes ---------------------------------------------------------------

    def scan(self) -> list[ExportChat]:
        """Read the whole file once: validate it, learn each chat, count its messages."""
        chats: list[_Chat] = []
        for chat, index, message in self._walk(chats):
            where = f"{chat.where}messages[{index}]"
            self._check_message(message, where)
            chat.messages += 1
            if chat.channel_from_messages is None and chat.fields.get("id") is None:
                parsed = parse_from_id(message.get("from_id"))
                if parsed is not None and parsed[0] == "channel":
                    chat.channel_from_messages = self._bare_id(parsed[1], f"{where}.from_id")
        for chat in chats:
            chat.info = self._chat_info(chat)
        self._chats = chats
        return self.chats

    def items(self) -> Iterator[ExportItem]:
        """Every message of the file again, as a post to store or a skip with its reason."""
        assert self._chats is not None, "scan() first"
        for chat, index, message in self._walk(None):
            info = self._chats[chat.place].info
            assert info is not None
            item = self._item(message, info.channel_id, f"{chat.where}messages[{index}]")
            if info.left_out is not None:
                item = SkippedPost(item.channel_id, item.message_id, info.left_out)
            yield item

    # -- the event stream ------------------------------------------------------------

    def _walk(self, found: list[_Chat] | None) -> Iterator[tuple[_Chat, int, Any]]:
        """(chat, message index, message) for every message, in file order. With *found*
        (the scan) each chat's fields are collected into it; without, ``chat.messages`` is
        the chat's place in the file."""
        with self._open() as raw:
            stream = json_stream.BoundedStream(raw)
            try:
                yield from self._events(stream, found)
            except json_stream.PARSE_ERRORS as exc:
                raise self._syntax_error(exc) from None
            except json_stream.ValueTooLarge as exc:
                raise self._fail("a single value", str(exc)) from None

    def _events(
        self, stream: json_stream.BoundedStream, found: list[_Chat] | None
    ) -> Iterator[tuple[_Chat, int, Any]]:
        # basic_parse, not parse: ijson's prefixes grow with the depth, so a deeply nested
        # file would cost time and memory by the square of its depth. The path is kept here,
        # its depth bounded.
        events = ijson.basic_parse(stream, buf_size=json_stream.CHUNK)
        try:
            event, _ = next(events)
        except StopIteration:
            raise ExportFormatError(self._source, "line 1, column 1", "the file is empty") from None
        if event != "start_map":
            raise ExportFormatError(self._source, "top level", "expected a JSON object")
        path: list[str] = [""]  # like ijson's prefix: keys, "item" in arrays
        top = _Chat("")  # a single-chat export's chat: the document itself
        top_keys: set[str] = set()
        lists: set[str] = set()  # the sections whose "list" was seen
        places = -1  # the chat's place among all chats of the file
        positions = dict.fromkeys(_SECTIONS, -1)  # its place in its section's list
        chat: _Chat | None = None
        builder: ObjectBuilder | None = None
        depth = index = 0
        for event, value in events:
            if builder is not None:  # inside a message: build it (the hot loop: kept short)
                builder.event(event, value)
                if event in _OPEN:
                    depth += 1
                    if depth + len(path) > MAX_DEPTH:
                        raise self._fail(f"{chat_where(chat)}messages[{index}]", TOO_DEEP)
                elif event in _CLOSE:
                    depth -= 1
                    if depth == 0:
                        assert chat is not None
                        yield chat, index, builder.value
                        builder, index = None, index + 1
                        stream.seen_value()
                continue
            if event == "map_key":
                prefix = ".".join(path[:-1])
                path[-1] = value
            elif event in ("start_map", "start_array"):
                prefix = ".".join(path)
                path.append("" if event == "start_map" else "item")
                if len(path) > MAX_DEPTH:
                    raise self._fail(prefix[:60], TOO_DEEP)
            elif event in ("end_map", "end_array"):
                path.pop()
                prefix = ".".join(path)
            else:
                prefix = ".".join(path)
            stream.seen_value()
            if prefix == "":
                if event == "map_key":
                    top_keys.add(value)
                    if value == "messages" and not self._single:
                        self._single, places, index = True, places + 1, 0
                        chat = self._place(found, top, places)
                continue
            section, _, key = prefix.partition(".list.item")
            if section in _SECTIONS and prefix.startswith(f"{section}.list.item"):
                key = key.removeprefix(".")
                if key == "":
                    if event == "start_map":
                        positions[section] += 1
                        places, index = places + 1, 0
                        where = f"{section}.list[{positions[section]}]."
                        chat = self._place(found, _Chat(where), places)
                    elif event not in ("map_key", "end_map"):
                        position = positions[section] + 1
                        raise self._fail(f"{section}.list[{position}]", "expected a chat object")
                    continue
            elif self._single or "chats" not in top_keys or "messages" in top_keys:
                key = prefix  # a single-chat export: its keys are the document's
                chat = chat or top
            else:
                self._check_section(prefix, event)
                if prefix.endswith(".list") and event == "start_array":
                    lists.add(prefix.split(".")[0])
                continue
            assert chat is not None
            if key == "messages":
                if event not in ("start_array", "end_array", "map_key"):
                    raise self._fail(f"{chat.where}messages", "expected an array")
            elif key == "messages.item":
                if event == "end_array":
                    continue
                if event != "start_map":
                    raise self._fail(f"{chat.where}messages[{index}]", "expected a message object")
                path.pop()  # the message's own depth is counted while it is built
                builder, depth = ObjectBuilder(), 1
                builder.event(event, value)
            elif key in ("id", "type", "name") and found is not None:
                scalar = event in ("string", "number", "boolean", "null")
                chat.fields.setdefault(key, value if scalar else _NotScalar(event))
        if not self._single and "chats" not in top_keys:
            raise self._fail("", 'neither "messages" nor "chats.list": not a Telegram export')
        for section in _SECTIONS:
            if not self._single and section in top_keys and section not in lists:
                raise self._fail(section, 'expected an object with a "list" array')

    def _check_section(self, prefix: str, event: str) -> None:
        """``chats`` and ``left_chats`` must be objects holding a ``list`` array."""
        for section in _SECTIONS:
            if prefix == section and event not in ("start_map", "map_key", "end_map"):
                raise self._fail(section, 'expected an object with a "list" array')
            if prefix == f"{section}.list" and event not in ("start_array", "end_array"):
                raise self._fail(section, 'expected an object with a "list" array')

    @staticmethod
    def _place(found: list[_Chat] | None, chat: _Chat, place: int) -> _Chat:
        """The scan keeps each chat; the second pass finds the scan's by its place."""
        chat.place = place
        if found is not None:
            found.append(chat)
        return chat

    # -- chats -----------------------------------------------------------------------

    def _chat_info(self, chat: _Chat) -> ExportChat:
        fields = chat.fields
        chat_type = fields.get("type", "public_channel")
        if not isinstance(chat_type, str):
            raise self._fail(f"{chat.where}type", f"expected a string, got {chat_type!r}")
        bare = fields.get("id")
        if bare is not None:
            if not isinstance(bare, int) or isinstance(bare, bool):
                raise self._fail(f"{chat.where}id", f"expected an integer, got {bare!r}")
            channel_id = mark_chat(self._bare_id(bare, f"{chat.where}id"), chat_type)
        elif chat.channel_from_messages is not None:  # very old exports
            channel_id = mark_channel(chat.channel_from_messages)
        else:
            raise self._fail(
                f"{chat.where}id", "the chat has no id (and no message names its channel)"
            )
        name = clean(str(fields.get("name") or channel_id))
        left_out = (
            None
            if self._single
            else self._choice.left_out(chat_type, channel_id, bare or None, name)
        )
        return ExportChat(channel_id, name, chat_type, chat.messages, left_out is None, left_out)

    def _bare_id(self, value: int, where: str) -> int:
        if not 0 < value <= MAX_CHAT_ID:
            raise self._fail(where, f"out of range (1 to 2^52): {value}")
        return value

    # -- messages --------------------------------------------------------------------

    def _check_message(self, message: Any, where: str) -> None:
        self._item(message, 0, where)  # everything but the chat's id, which comes later

    def _item(self, message: Any, channel_id: int, where: str) -> ExportItem:
        if not isinstance(message, dict):
            raise self._fail(where, "expected a message object")
        message_id = message.get("id")
        if not isinstance(message_id, int) or isinstance(message_id, bool):
            raise self._fail(f"{where}.id", f"expected an integer, got {message_id!r}")
        if not 0 < message_id <= MAX_MESSAGE_ID:
            raise self._fail(f"{where}.id", f"out of range (1 to {MAX_MESSAGE_ID}): {message_id}")
        kind = message.get("type", "message")
        if kind == "service":
            return SkippedPost(channel_id, message_id, SERVICE)
        if kind != "message":
            return SkippedPost(channel_id, message_id, UNSUPPORTED)
        text = self._text(message, where)
        if not text.strip():
            return SkippedPost(channel_id, message_id, NO_TEXT)
        return NewPost(channel_id, message_id, text, self._date(message, where))

    def _text(self, message: dict[str, Any], where: str) -> str:
        key = "text" if "text" in message else "text_entities"
        value = message.get(key, "")
        if isinstance(value, str):
            return clean(value)
        if not isinstance(value, list):
            raise self._fail(f"{where}.{key}", "expected a string or an array of pieces")
        parts: list[str] = []
        plain: list[str] = []
        for index, piece in enumerate(value):
            if isinstance(piece, str):
                parts.append(piece)
                plain.append(piece)
            elif isinstance(piece, dict) and isinstance(piece.get("text", ""), str):
                text = piece.get("text", "")
                parts.append(export_piece(piece) or text)
                plain.append(text)
            else:
                raise self._fail(f"{where}.{key}[{index}]", "expected a string or a text piece")
        if not "".join(plain).strip():  # links never make a blank post a post
            return ""
        return clean("".join(parts))

    def _date(self, message: dict[str, Any], where: str) -> datetime | None:
        unix = message.get("date_unixtime")
        if unix is not None:
            digits = str(unix) if isinstance(unix, int | str) and not isinstance(unix, bool) else ""
            if not (digits.isascii() and digits.isdigit()):
                raise self._fail(f"{where}.date_unixtime", f"expected digits, got {unix!r}")
            try:
                return datetime.fromtimestamp(int(digits), UTC)
            except (OverflowError, OSError, ValueError):
                raise self._fail(f"{where}.date_unixtime", f"out of range: {unix!r}") from None
        local = message.get("date")
        if local is None:
            return None
        try:
            parsed = datetime.fromisoformat(str(local))
        except ValueError:
            raise self._fail(f"{where}.date", f"not an ISO date: {local!r}") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=self._naive_tz)
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise self._fail(f"{where}.date", f"out of range: {local!r}") from None

    # -- errors ----------------------------------------------------------------------

    def _fail(self, where: str, problem: str) -> ExportFormatError:
        return ExportFormatError(self._source, where or "top level", problem)

    def _syntax_error(self, exc: BaseException) -> ExportFormatError:
        where, problem = json_stream.locate(self._open, exc)
        return ExportFormatError(self._source, where, problem)


def chat_where(chat: _Chat | None) -> str:
    return chat.where if chat is not None else ""


class _NotScalar:
    def __init__(self, event: str) -> None:
        self.kind = {"start_map": "an object", "start_array": "an array"}.get(event, event)

    def __repr__(self) -> str:
        return self.kind


@attrs.frozen
class ExportContents:
    items: list[ExportItem]
    chats: list[ExportChat]


def read_export(
    path: Path, choice: ChatChoice | None = None, *, naive_tz: tzinfo = UTC
) -> ExportContents:
    """Scan and read a small export into memory (the bundled demo export, tests)."""
    reader = ExportReader(path, choice, naive_tz=naive_tz)
    chats = reader.scan()
    return ExportContents(list(reader.items()), chats)


def parse_export(
    text: str, source: str = "<export>", choice: ChatChoice | None = None, *, naive_tz: tzinfo = UTC
) -> ExportContents:
    """The same for an export given as text."""
    data = text.encode("utf-8", "surrogatepass")
    reader = ExportReader(Path(source), choice, naive_tz=naive_tz, opener=lambda: io.BytesIO(data))
    chats = reader.scan()
    return ExportContents(list(reader.items()), chats)
