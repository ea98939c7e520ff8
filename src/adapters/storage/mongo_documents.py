"""The shape of an ``incoming_messages`` document, both ways.

``processing_status`` holds the lowercase status; ``retry_count`` and ``retry_after`` are
top-level (SPEC.md, "Monitoring"). Fields that are None are left out of the document, and
``retry_count`` is absent while it is 0 (a requeue ``$unset``s it, as the FAQ says), and
``usage`` (``{prompt_tokens, completion_tokens, calls, seconds}``) while nothing was spent.
Documents written before a field existed read as its default.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

import attrs

from channel_parser.application.ports.storage import MessageFilter, StaleResults
from channel_parser.domain.failures import FailureKind
from channel_parser.domain.message import ErrorInfo, IncomingMessage, MessageKey
from channel_parser.domain.message_rules import DUE, Changes, DueRule
from channel_parser.domain.status import MessageStatus, all_spellings, parse_status, spellings
from channel_parser.domain.usage import NO_USAGE, LLMUsage

# Written by save(): every field a transition may change (never the identity or the text),
# by its name in the domain.
STATE_FIELDS = (
    "status",
    "retry_count",
    "retry_after",
    "lease_owner",
    "lease_until",
    "last_error",
    "result",
    "updated_at",
    "done_at",
    "from_cache",
    "usage",
    "model",
    "parser_fingerprint",
    "edited_at",
    "profile",
    "spec_hash",
)


def document_id(key: MessageKey) -> str:
    """``_id`` is the identity as text, "channel:message": a key every MongoDB-protocol
    server looks up directly (FerretDB pushes string ``_id`` filters down, not ObjectIds)."""
    return f"{key.channel_id}:{key.message_id}"


def key_filter(key: MessageKey) -> dict[str, Any]:
    return {"_id": document_id(key)}


def _error_document(error: ErrorInfo | None) -> dict[str, Any] | None:
    if error is None:
        return None
    return {
        "kind": str(error.kind),
        "code": error.code,
        "message": error.message,
        "at": error.at,
        "repeats": error.repeats,
    }


def _retry_count(count: int) -> int | None:
    return count or None  # absent while 0 (SPEC.md's FAQ: a reset removes it)


def _usage_document(usage: LLMUsage) -> dict[str, Any] | None:
    if usage.is_zero:
        return None
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "calls": usage.calls,
        "seconds": usage.seconds,
    }


def _usage(doc: dict[str, Any] | None) -> LLMUsage:
    if not doc:
        return NO_USAGE
    return LLMUsage(
        int(doc.get("prompt_tokens") or 0),
        int(doc.get("completion_tokens") or 0),
        int(doc.get("calls") or 0),
        float(doc.get("seconds") or 0.0),
    )


# A domain field stored under another name or in another form: (document field, encode).
# The rest are stored as they are. An encoded None means the field is absent.
_ENCODED: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "status": ("processing_status", str),
    "retry_count": ("retry_count", _retry_count),
    "last_error": ("last_error", _error_document),
    "usage": ("usage", _usage_document),
}


def _encode(field: str, value: Any) -> tuple[str, Any]:
    name, encode = _ENCODED.get(field, (field, None))
    return name, value if encode is None or value is None else encode(value)


def to_document(message: IncomingMessage) -> dict[str, Any]:
    """The full document of *message*, None fields left out."""
    doc: dict[str, Any] = {"_id": document_id(message.key)}
    for field in attrs.fields(IncomingMessage):
        name, value = _encode(field.name, getattr(message, field.name))
        if value is not None:
            doc[name] = value
    return doc


def changes_update(changes: Changes) -> dict[str, Any]:
    """The ``$set``/``$unset`` update making *changes* (a rule of domain.message_rules)."""
    to_set: dict[str, Any] = {}
    to_unset: dict[str, Any] = {}
    for field, value in changes.items():
        name, encoded = _encode(field, value)
        if encoded is None:
            to_unset[name] = ""
        else:
            to_set[name] = encoded
    update: dict[str, Any] = {}
    if to_set:
        update["$set"] = to_set
    if to_unset:
        update["$unset"] = to_unset
    return update


def state_update(message: IncomingMessage) -> dict[str, Any]:
    """A ``$set``/``$unset`` update writing the state fields of *message*."""
    return changes_update({field: getattr(message, field) for field in STATE_FIELDS})


def state_filter(message: IncomingMessage) -> dict[str, Any]:
    """A filter matching a document whose state fields are those of *message* (what
    ``state_update`` would leave): equal where set, absent where unset."""
    update = state_update(message)
    return {
        **update.get("$set", {}),
        **{name: {"$exists": False} for name in update.get("$unset", {})},
    }


def _error_info(error: dict[str, Any] | None) -> ErrorInfo | None:
    if not error:
        return None
    return ErrorInfo(
        FailureKind(error["kind"]),
        error.get("code"),
        str(error.get("message") or ""),
        error["at"],
        int(error.get("repeats") or 1),
    )


def from_document(doc: dict[str, Any]) -> IncomingMessage:
    """The message of a document; an error (KeyError, ValueError, ...) for a document
    edited by hand into something it cannot be (see unreadable.py)."""
    error = doc.get("last_error")
    if not isinstance(doc["text"], str):
        raise ValueError("text is not a string")
    return IncomingMessage(
        channel_id=int(doc["channel_id"]),
        message_id=int(doc["message_id"]),
        text=doc["text"],
        received_at=doc["received_at"],
        posted_at=doc.get("posted_at"),
        status=parse_status(doc["processing_status"]),
        retry_count=doc.get("retry_count") or 0,
        retry_after=doc.get("retry_after"),
        lease_owner=doc.get("lease_owner"),
        lease_until=doc.get("lease_until"),
        last_error=_error_info(error),
        result=doc.get("result"),
        updated_at=doc.get("updated_at"),
        done_at=doc.get("done_at"),
        from_cache=bool(doc.get("from_cache", False)),
        usage=_usage(doc.get("usage")),
        model=doc.get("model"),
        parser_fingerprint=doc.get("parser_fingerprint"),
        edited_at=doc.get("edited_at"),
        profile=doc.get("profile"),
        spec_hash=doc.get("spec_hash"),
    )


def status_field(status: MessageStatus) -> dict[str, Any]:
    """The status as we write it (a filter on documents only we have written)."""
    return {"processing_status": str(status)}


def status_in(statuses: Collection[MessageStatus]) -> dict[str, Any]:
    """Documents in one of *statuses*, however a person spelled it by hand."""
    return {"processing_status": {"$in": list(all_spellings(statuses))}}


def due_filter(now: datetime, rule: DueRule = DUE) -> dict[str, Any]:
    """The domain's due rule: a status due at once, or a status due once its retry_after
    has passed (or is unset), in every spelling a store accepts (``PENDING`` set by hand
    is due). One equality per spelling, as FerretDB pushes those down."""
    return {
        "$or": [
            *(
                {"processing_status": spelled}
                for s in sorted(rule.at_once)
                for spelled in spellings(s)
            ),
            *(
                {"processing_status": spelled, "retry_after": when}
                for s in sorted(rule.after_retry_time)
                for spelled in spellings(s)
                for when in ({"$lte": now}, None)
            ),
        ]
    }


def stale_filter(stale: StaleResults) -> dict[str, Any]:
    """StaleResults.matches as a MongoDB filter: DONE, and the fingerprint is not the one of
    the channel's profile (``$ne`` matches a document without one too)."""
    groups: dict[str, list[int]] = {}
    for channel, fingerprint in stale.by_channel.items():
        groups.setdefault(fingerprint, []).append(channel)
    listed = sorted(stale.by_channel)
    per_profile = [
        {"channel_id": {"$in": sorted(channels)}, "parser_fingerprint": {"$ne": fingerprint}}
        for fingerprint, channels in sorted(groups.items())
    ]
    others: dict[str, Any] = {"parser_fingerprint": {"$ne": stale.fingerprint}}
    if listed:
        others["channel_id"] = {"$nin": listed}
    return {"$and": [status_in([MessageStatus.DONE]), {"$or": [*per_profile, others]}]}


def filter_document(where: MessageFilter) -> dict[str, Any]:
    """A query's filter as a MongoDB filter (a post without a time never matches a bound)."""
    query: dict[str, Any] = {}
    if where.status is not None:
        query.update(status_field(where.status))
    if where.channels:
        query["channel_id"] = {"$in": sorted(where.channels)}
    posted: dict[str, Any] = {}
    if where.posted_from is not None:
        posted["$gte"] = where.posted_from
    if where.posted_until is not None:
        posted["$lt"] = where.posted_until
    if posted:
        query["posted_at"] = posted
    return query
