"""A post's text as it is stored and sent to the LLM: the plain text with the URLs of its
hidden links kept, as Markdown ``[text](url)`` the way Telethon's ``message.text`` shows
them (issue 17). "Apply here" with a link to a form is the payload of a job post; the
plain ``message.message`` (and an export's joined pieces) would drop the URL.

Only links are rendered: a text link (``MessageEntityTextUrl``, an export's ``text_link``)
and a mention of a user without a username (``MessageEntityMentionName``, an export's
``mention_name``, as ``tg://user?id=N``). Bold, italics and the like stay plain, and a
visible URL or ``@name`` is already in the text. The live path and the importer render
the same post to the same text, so an imported post read again live is unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from telethon import types
from telethon.extensions import markdown

LINK_ENTITIES = (types.MessageEntityTextUrl, types.MessageEntityMentionName)


def message_text(message: Any) -> str:
    """The text (or a media post's caption) of a Telethon message, its hidden links kept.
    Works on a message built by hand too (``message.text`` needs a client)."""
    text = getattr(message, "message", None) or ""
    entities = [e for e in getattr(message, "entities", None) or () if isinstance(e, LINK_ENTITIES)]
    if not text or not entities:
        return text
    return str(markdown.unparse(text, entities))


def link(text: str, url: str) -> str:
    """One hidden link, as ``markdown.unparse`` writes it."""
    return f"[{text}]({url})"


def export_piece(piece: dict[str, Any]) -> str | None:
    """A Telegram Desktop export's text piece with its hidden link, or None when the piece
    is not a link to keep (its plain text is used)."""
    text = piece.get("text", "")
    if not isinstance(text, str) or not text:
        return None
    kind = piece.get("type")
    href = piece.get("href")
    if kind == "text_link" and isinstance(href, str) and href:
        return link(text, href)
    user_id = piece.get("user_id")
    if kind == "mention_name" and isinstance(user_id, int) and not isinstance(user_id, bool):
        return link(text, f"tg://user?id={user_id}")
    return None


def album_text(texts: Sequence[str]) -> str:
    """The text of an album whose items carry several captions: one post, in item order."""
    return "\n\n".join(t for t in texts if t.strip())
