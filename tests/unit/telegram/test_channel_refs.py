"""TELEGRAM_CHANNELS entries: what maps to a channel is accepted, the rest is refused with
a line that says what is wrong."""

from __future__ import annotations

import pytest

from channel_parser.adapters.telegram.channels import RefKind, parse_channel_ref
from channel_parser.application.errors import ConfigurationError

MARKED = -1001234567890


@pytest.mark.parametrize(
    ("text", "lookup", "known", "kind"),
    [
        ("@Jobs_Channel", "@jobs_channel", None, RefKind.USERNAME),
        ("jobs_channel", "@jobs_channel", None, RefKind.USERNAME),
        ("https://t.me/jobs_channel", "@jobs_channel", None, RefKind.USERNAME),
        ("t.me/jobs_channel/", "@jobs_channel", None, RefKind.USERNAME),
        ("https://telegram.me/jobs_channel", "@jobs_channel", None, RefKind.USERNAME),
        ("t.me/jobs_channel/12", "@jobs_channel", None, RefKind.USERNAME),  # a post's link
        ("https://t.me/jobs_channel/12?single", "@jobs_channel", None, RefKind.USERNAME),
        ("https://t.me/s/jobs_channel", "@jobs_channel", None, RefKind.USERNAME),  # web view
        ("tg://resolve?domain=jobs_channel", "@jobs_channel", None, RefKind.USERNAME),
        ("https://t.me/c/1234567890/5", MARKED, MARKED, RefKind.ID),  # a private post's link
        ("https://t.me/+AbCdEf123", "https://t.me/+AbCdEf123", None, RefKind.INVITE),
        ("t.me/joinchat/AbCdEf123", "https://t.me/+AbCdEf123", None, RefKind.INVITE),
        ("-1001234567890", MARKED, MARKED, RefKind.ID),
        ("1234567890", MARKED, MARKED, RefKind.ID),
    ],
)
def test_what_maps_to_a_channel_is_accepted(
    text: str, lookup: object, known: int | None, kind: RefKind
) -> None:
    ref = parse_channel_ref(text)
    assert (ref.lookup, ref.known_id, ref.kind) == (lookup, known, kind)
    assert ref.text == text


def test_an_invite_keeps_its_hash() -> None:
    assert parse_channel_ref("t.me/+AbCdEf123").invite_hash == "AbCdEf123"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("not a channel!", "is not a valid channel username"),
        ("https://t.me/addstickers/Animals", "a sticker set link, not a channel"),
        ("https://t.me/+79991234567", "a phone number link, not a channel"),
        ("https://t.me/c/", "a t.me/c/ link without the channel's number"),
        ("https://t.me/s/", "a t.me/s/ link without the channel's name"),
        ("https://t.me/", "the link names no channel"),
        ("https://t.me/joinchat/", "an invite link without a valid invite code"),
        ("https://example.com/jobs", "not a t.me link"),
        ("@ab", "is not a valid channel username"),
        ("https://t.me/addlist/abc123", "a chat folder link"),
    ],
)
def test_what_does_not_map_is_refused_saying_why(text: str, says: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_channel_ref(text)
    message = str(caught.value)
    assert message.startswith(f"setting TELEGRAM_CHANNELS: {text!r}: ")
    assert says in message
