"""A stored post as a record for people and programs: the one shape ``export`` writes,
``show --json`` prints and a webhook route delivers (issue 14, 17)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from channel_parser.application.ports.storage import ChannelInfo
from channel_parser.application.use_cases.export_results import ExportedPost
from channel_parser.domain.channels import CHANNEL_MARK


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def post_link(channel_id: int, message_id: int, channel: ChannelInfo | None) -> str | None:
    """``https://t.me/<username>/<id>`` for a public channel. For a channel the registry
    knows without a username (a private one), ``https://t.me/c/<bare id>/<id>``, the link
    Telegram's apps open for its members. None when nothing is known of the channel (e.g.
    imported from an export only): whether it is public cannot be told."""
    if channel is None:
        return None
    if channel.username:
        return f"https://t.me/{channel.username}/{message_id}"
    bare = -channel_id - CHANNEL_MARK
    return f"https://t.me/c/{bare}/{message_id}" if bare > 0 else None


RECORD_FIELDS = (
    "channel_id",
    "channel_username",
    "channel_title",
    "message_id",
    "link",
    "posted_at",
    "received_at",
    "edited_at",
    "status",
    "text",
    "result",
    "parsed_at",
    "model",
    "parser_fingerprint",
    "profile",
    "spec_hash",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "llm_calls",
    "llm_seconds",
    "from_cache",
    "retry_count",
    "retry_after",
    "error",
)


def record(post: ExportedPost) -> dict[str, Any]:
    """Everything about one post, JSON-ready (times in ISO 8601, UTC)."""
    m, channel = post.message, post.channel
    error = m.last_error
    return {
        "channel_id": m.channel_id,
        "channel_username": None if channel is None else channel.username,
        "channel_title": None if channel is None else channel.title,
        "message_id": m.message_id,
        "link": post_link(m.channel_id, m.message_id, channel),
        "posted_at": _time(m.posted_at),
        "received_at": _time(m.received_at),
        "edited_at": _time(m.edited_at),
        "status": m.status.value,
        "text": m.text,
        "result": m.result,
        "parsed_at": _time(m.done_at),
        "model": m.model,
        "parser_fingerprint": m.parser_fingerprint,
        "profile": m.profile,
        "spec_hash": m.spec_hash,
        "prompt_tokens": m.usage.prompt_tokens,
        "completion_tokens": m.usage.completion_tokens,
        "total_tokens": m.usage.total_tokens,
        "llm_calls": m.usage.calls,
        "llm_seconds": round(m.usage.seconds, 3),
        "from_cache": m.from_cache,
        "retry_count": m.retry_count,
        "retry_after": _time(m.retry_after),
        "error": None
        if error is None
        else {
            "kind": error.kind.value,
            "code": error.code,
            "message": error.message,
            "at": _time(error.at),
        },
    }
