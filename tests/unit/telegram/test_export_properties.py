"""The export reader on generated input: it reads an export or raises its own
ExportFormatError, never anything else, and every post it returns can be stored."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from channel_parser.adapters.telegram.export import ExportFormatError, parse_export
from channel_parser.application.ports.storage import NewPost

# JSON scalars, with the awkward ones Telegram exports never have but files may
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(["", "9" * 25, "²", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


def maybe(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the well-formed value, sometimes anything at all."""
    return st.one_of(value, value, json_values)


texts = st.text(
    alphabet=st.characters(codec=None, categories=None), max_size=20
)  # lone surrogates included
pieces = st.lists(
    st.one_of(texts, st.fixed_dictionaries({"type": st.just("bold"), "text": maybe(texts)})),
    max_size=3,
)
messages = st.fixed_dictionaries(
    {"id": maybe(st.integers(min_value=1, max_value=10**9))},
    optional={
        "type": maybe(st.sampled_from(["message", "service", "poll"])),
        "text": maybe(st.one_of(texts, pieces)),
        "text_entities": maybe(pieces),
        "date": maybe(st.sampled_from(["2026-01-25T18:42:51", "2026-13-01T00:00:00", "x"])),
        "date_unixtime": maybe(st.sampled_from(["1769366571", "0", "-5", "99999999999999"])),
        "from_id": maybe(st.sampled_from(["channel123", "user5", "channel", 7])),
    },
)
chats = st.fixed_dictionaries(
    {"messages": maybe(st.lists(maybe(messages), max_size=4))},
    optional={
        "id": maybe(st.integers(min_value=1, max_value=10**12)),
        "type": maybe(st.sampled_from(["public_channel", "private_supergroup", "personal_chat"])),
        "name": maybe(texts),
    },
)
whole_account = st.fixed_dictionaries(
    {"chats": maybe(st.fixed_dictionaries({"list": maybe(st.lists(maybe(chats), max_size=3))}))},
    optional={"left_chats": maybe(st.fixed_dictionaries({"list": st.lists(chats, max_size=2)}))},
)
documents = st.one_of(chats, whole_account, json_values)


def read_or_refuse(text: str) -> None:
    try:
        contents = parse_export(text, "gen.json")
    except ExportFormatError as exc:
        assert str(exc).startswith("gen.json: ")
        return
    for item in contents.items:
        if isinstance(item, NewPost):
            assert item.text.strip()
            item.text.encode("utf-8")  # storable: no lone surrogate left
            assert item.posted_at is None or item.posted_at.tzinfo is not None


@settings(deadline=None)  # examples: the profile in tests/conftest.py
@given(documents)
@example({"id": 1, "messages": [{"id": 1, "text": "a", "date_unixtime": "9" * 25}]})
@example({"id": 1, "messages": [{"id": 1, "text": "a", "date_unixtime": "²"}]})
@example({"id": 1, "messages": [{"id": 1, "text": "a", "date": "0001-01-01T00:00:00+05:00"}]})
@example({"chats": {"list": [{"id": 1, "type": ["public_channel"], "messages": []}]}})
@example({"id": 1, "messages": [{"id": 1, "text": "\ud83d oops"}]})
def test_a_generated_export_is_read_or_refused_with_an_export_format_error(doc: Any) -> None:
    read_or_refuse(json.dumps(doc))


@settings(deadline=None)  # examples: the profile in tests/conftest.py
@given(documents, st.data())
def test_a_cut_or_garbled_export_is_refused_with_an_export_format_error(
    doc: Any, data: st.DataObject
) -> None:
    text = json.dumps(doc, indent=1)
    cut = data.draw(st.integers(min_value=0, max_value=len(text)))
    junk = data.draw(st.text(max_size=3))
    read_or_refuse(text[:cut] + junk)


def test_a_deeply_nested_file_is_refused_not_a_recursion_error() -> None:
    read_or_refuse('{"messages": ' + "[" * 100_000 + "]" * 100_000 + "}")
