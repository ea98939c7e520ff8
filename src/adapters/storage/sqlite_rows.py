"""Rows of the SQLite ``incoming_messages`` table, both ways (same fields as the Mongo
documents; the last error is flattened into ``error_*`` columns and the usage into
``prompt_tokens``, ``completion_tokens``, ``llm_calls``, ``llm_seconds``; the result is
JSON)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from channel_parser.adapters.storage.sqlite_db import fmt, fmt_opt, parse_opt
from channel_parser.domain.failures import FailureKind
from channel_parser.domain.message import ErrorInfo, IncomingMessage
from channel_parser.domain.status import parse_status
from channel_parser.domain.usage import LLMUsage

COLUMNS = (
    "channel_id",
    "message_id",
    "text",
    "received_at",
    "posted_at",
    "processing_status",
    "retry_count",
    "retry_after",
    "lease_owner",
    "lease_until",
    "error_kind",
    "error_code",
    "error_message",
    "error_at",
    "result",
    "updated_at",
    "done_at",
    "from_cache",
    "error_repeats",
    # added later (sqlite_migrations): IncomingMessage.usage flattened, and the rest
    "prompt_tokens",
    "completion_tokens",
    "llm_calls",
    "llm_seconds",
    "model",
    "parser_fingerprint",
    "edited_at",
    "profile",
    "spec_hash",
)
# What save() writes: everything but the identity, the text and the arrival times.
STATE_COLUMNS = COLUMNS[5:]


# The columns of a domain field that is not stored under its own name.
FIELD_COLUMNS: dict[str, tuple[str, ...]] = {
    "status": ("processing_status",),
    "last_error": ("error_kind", "error_code", "error_message", "error_at", "error_repeats"),
    "usage": ("prompt_tokens", "completion_tokens", "llm_calls", "llm_seconds"),
}


def columns_of(fields: Iterable[str]) -> tuple[str, ...]:
    """The columns that hold *fields* of IncomingMessage (e.g. a transition's changes)."""
    return tuple(column for field in fields for column in FIELD_COLUMNS.get(field, (field,)))


def to_row(message: IncomingMessage) -> dict[str, Any]:
    error = message.last_error
    return {
        "channel_id": message.channel_id,
        "message_id": message.message_id,
        "text": message.text,
        "received_at": fmt(message.received_at),
        "posted_at": fmt_opt(message.posted_at),
        "processing_status": str(message.status),
        "retry_count": message.retry_count or None,
        "retry_after": fmt_opt(message.retry_after),
        "lease_owner": message.lease_owner,
        "lease_until": fmt_opt(message.lease_until),
        "error_kind": None if error is None else str(error.kind),
        "error_code": None if error is None else error.code,
        "error_message": None if error is None else error.message,
        "error_at": None if error is None else fmt(error.at),
        "result": None if message.result is None else json.dumps(message.result),
        "updated_at": fmt_opt(message.updated_at),
        "done_at": fmt_opt(message.done_at),
        "from_cache": int(message.from_cache),
        "error_repeats": None if error is None else error.repeats,
        "prompt_tokens": message.usage.prompt_tokens,
        "completion_tokens": message.usage.completion_tokens,
        "llm_calls": message.usage.calls,
        "llm_seconds": message.usage.seconds,
        "model": message.model,
        "parser_fingerprint": message.parser_fingerprint,
        "edited_at": fmt_opt(message.edited_at),
        "profile": message.profile,
        "spec_hash": message.spec_hash,
    }


def from_row(row: sqlite3.Row) -> IncomingMessage:
    """The message of a row; ValueError (or another error) for a row edited by hand into
    something it cannot be (see unreadable.py)."""
    error = None
    if row["error_kind"] is not None:
        at = parse_opt(row["error_at"])
        if at is None:
            raise ValueError("error_kind is set but error_at is not")
        kind = FailureKind(row["error_kind"])
        repeats = row["error_repeats"] or 1
        error = ErrorInfo(kind, row["error_code"], row["error_message"] or "", at, repeats)
    received_at = parse_opt(row["received_at"])
    if received_at is None or not isinstance(row["text"], str):
        raise ValueError("received_at and text must be set")
    return IncomingMessage(
        channel_id=row["channel_id"],
        message_id=row["message_id"],
        text=row["text"],
        received_at=received_at,
        posted_at=parse_opt(row["posted_at"]),
        status=parse_status(row["processing_status"]),
        retry_count=row["retry_count"] or 0,
        retry_after=parse_opt(row["retry_after"]),
        lease_owner=row["lease_owner"],
        lease_until=parse_opt(row["lease_until"]),
        last_error=error,
        result=None if row["result"] is None else json.loads(row["result"]),
        updated_at=parse_opt(row["updated_at"]),
        done_at=parse_opt(row["done_at"]),
        from_cache=bool(row["from_cache"]),
        usage=LLMUsage(
            row["prompt_tokens"], row["completion_tokens"], row["llm_calls"], row["llm_seconds"]
        ),
        model=row["model"],
        parser_fingerprint=row["parser_fingerprint"],
        edited_at=parse_opt(row["edited_at"]),
        profile=row["profile"],
        spec_hash=row["spec_hash"],
    )
