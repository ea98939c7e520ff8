"""A stored post as a record for people and programs: the one shape ``export`` writes (as
JSON Lines, a JSON array or CSV rows) and ``show --json`` prints."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from channel_parser.adapters.telegram.ids import CHANNEL_MARK
from channel_parser.application.ports.storage import ChannelInfo
from channel_parser.application.use_cases.export_results import ExportedPost


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


# -- CSV: one row a record, the result's fields flattened to columns --------------------

ERROR_COLUMNS = ("error_kind", "error_code", "error_message", "error_at")
OTHER_RESULT = "result_other"  # the result's fields the schema does not name, as JSON


def result_fields(schema: dict[str, Any]) -> list[str]:
    """The result's top-level fields, in the order the schema's ``properties`` list them."""
    properties = schema.get("properties")
    return list(properties) if isinstance(properties, dict) else []


def csv_columns(fields: Sequence[str]) -> list[str]:
    base = [name for name in RECORD_FIELDS if name not in ("result", "error")]
    return [*base, *ERROR_COLUMNS, *(f"result.{name}" for name in fields), OTHER_RESULT]


def csv_row(data: dict[str, Any], fields: Iterable[str]) -> dict[str, str]:
    """Scalars as text (true/false for booleans, empty for null), nested values as JSON."""
    row = {name: _cell(value) for name, value in data.items() if name not in ("result", "error")}
    error = data["error"] or {}
    row.update({f"error_{key}": _cell(error.get(key)) for key in ("kind", "code", "message", "at")})
    result = dict(data["result"] or {})
    for name in fields:
        row[f"result.{name}"] = _cell(result.pop(name, None))
    row[OTHER_RESULT] = json.dumps(result, ensure_ascii=False) if result else ""
    return row


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, ensure_ascii=False)
