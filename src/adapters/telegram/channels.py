"""The channels to read, as configured: a username, a t.me link, an invite link, or an id.

Accepted: ``@name``, ``name``, ``https://t.me/name`` (also ``telegram.me``), the links
Telegram shows for one post or the web preview (``t.me/name/12``, ``t.me/s/name``,
``t.me/c/1234567890/5`` for a private channel's post), ``tg://resolve?domain=name``,
invite links (``t.me/+hash``, ``t.me/joinchat/hash``), and ids (bare ``1234567890`` or
marked ``-1001234567890``). Anything else is refused with a line saying what it is.
"""

from __future__ import annotations

import enum
import re
from urllib.parse import parse_qs, urlsplit

import attrs

from channel_parser.adapters.telegram.ids import mark_channel
from channel_parser.application.errors import ConfigurationError

_NUMBER = re.compile(r"^-?\d+$")
_USERNAME = re.compile(r"^[a-zA-Z][\w\d]{3,31}$")
_HOSTS = {"t.me", "telegram.me", "telegram.dog", "www.t.me", "www.telegram.me"}
_NOT_CHANNELS = {
    "addstickers": "a sticker set link",
    "addemoji": "an emoji set link",
    "addtheme": "a theme link",
    "setlanguage": "a language link",
    "share": "a share link",
    "proxy": "a proxy link",
    "socks": "a proxy link",
    "login": "a login code link",
    "invoice": "an invoice link",
    "boost": "a boost link",
    "addlist": "a chat folder link (give the channels one by one)",
}


class RefKind(enum.StrEnum):
    USERNAME = "username"
    INVITE = "invite"
    ID = "id"


@attrs.frozen
class ChannelRef:
    text: str  # as configured, for messages to the admins
    lookup: str | int  # what get_input_entity is given: "@name", an invite link, a marked id
    known_id: int | None  # the marked id, when the configuration says it
    kind: RefKind = RefKind.USERNAME
    invite_hash: str | None = None


def parse_channel_ref(text: str) -> ChannelRef:
    """Read one TELEGRAM_CHANNELS entry; ConfigurationError saying exactly what is wrong."""
    text = text.strip()
    if _NUMBER.match(text):
        marked = mark_channel(int(text))
        return ChannelRef(text, marked, marked, RefKind.ID)
    if text.startswith("@"):
        return _username(text, text[1:])
    if text.startswith("tg://"):
        domain = parse_qs(urlsplit(text).query).get("domain", [""])[0]
        return _username(text, domain)
    link = text if "://" in text else f"https://{text}"
    parts = urlsplit(link)
    if parts.hostname not in _HOSTS:
        if "/" not in text and "." not in text:
            return _username(text, text)
        raise _bad(text, "not a t.me link (give @username, a t.me link or the channel's id)")
    path = [p for p in parts.path.split("/") if p]
    if not path:
        raise _bad(text, "the link names no channel")
    head = path[0]
    if head.startswith("+"):
        invite = head[1:]
        if invite.isdigit():
            raise _bad(text, "a phone number link, not a channel")
        return _invite(text, invite)
    if head == "joinchat":
        return _invite(text, path[1] if len(path) > 1 else "")
    if head == "c":  # t.me/c/<bare id>/<post>: a post of a private channel, by its id
        if len(path) < 2 or not path[1].isdigit():
            raise _bad(text, "a t.me/c/ link without the channel's number")
        marked = mark_channel(int(path[1]))
        return ChannelRef(text, marked, marked, RefKind.ID)
    if head == "s":  # t.me/s/<name>: the web preview of a public channel
        if len(path) < 2:
            raise _bad(text, "a t.me/s/ link without the channel's name")
        head = path[1]
    elif head in _NOT_CHANNELS:
        raise _bad(text, f"{_NOT_CHANNELS[head]}, not a channel")
    return _username(text, head)  # t.me/name, t.me/name/12 (a post): the channel


def _username(text: str, name: str) -> ChannelRef:
    if not _USERNAME.match(name):
        raise _bad(text, f"{name!r} is not a valid channel username")
    return ChannelRef(text, f"@{name.lower()}", None, RefKind.USERNAME)


def _invite(text: str, invite: str) -> ChannelRef:
    if not re.fullmatch(r"[\w-]{4,}", invite):
        raise _bad(text, "an invite link without a valid invite code")
    return ChannelRef(text, f"https://t.me/+{invite}", None, RefKind.INVITE, invite)


def _bad(text: str, why: str) -> ConfigurationError:
    return ConfigurationError(f"setting TELEGRAM_CHANNELS: {text!r}: {why}")
