"""The shape of an ``incoming_messages`` document, both ways.

``processing_status`` holds the lowercase status; ``retry_count`` and ``retry_after`` are
top-level (SPEC.md, "Monitoring"). Fields that are None are left out of the document, and
``retry_count`` is absent while it is 0 (a requeue ``$unset``s it, as the FAQ says).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from channel_parser.domain.failures import FailureKind
from channel_parser.domain.message import ErrorInfo, IncomingMessage, MessageKey
from channel_parser.domain.status import MessageStatus

# Written by save(): everything a transition may change (never the identity or the text).
STATE_FIELDS = (
    "processing_status",
    "retry_count",
    "retry_after",
    "lease_owner",
    "lease_until",
    "last_error",
    "result",
    "updated_at",
    "done_at",
    "from_cache",
)

# What a requeue/reset removes (retry_count among them: SPEC.md's FAQ).
REQUEUE_UNSET = dict.fromkeys(
    ("retry_count", "retry_after", "lease_owner", "lease_until", "last_error", "result", "done_at"),
    "",
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
    return {"kind": str(error.kind), "code": error.code, "message": error.message, "at": error.at}


def to_document(message: IncomingMessage) -> dict[str, Any]:
    """The full document of *message*, None fields left out."""
    doc: dict[str, Any] = {
        "_id": document_id(message.key),
        "channel_id": message.channel_id,
        "message_id": message.message_id,
        "text": message.text,
        "received_at": message.received_at,
        "posted_at": message.posted_at,
        "processing_status": str(message.status),
        "retry_count": message.retry_count or None,
        "retry_after": message.retry_after,
        "lease_owner": message.lease_owner,
        "lease_until": message.lease_until,
        "last_error": _error_document(message.last_error),
        "result": message.result,
        "updated_at": message.updated_at,
        "done_at": message.done_at,
        "from_cache": message.from_cache,
    }
    return {name: value for name, value in doc.items() if value is not None}


def state_update(message: IncomingMessage) -> dict[str, Any]:
    """A ``$set``/``$unset`` update writing the state fields of *message*."""
    doc = to_document(message)
    to_set = {name: doc[name] for name in STATE_FIELDS if name in doc}
    to_unset = {name: "" for name in STATE_FIELDS if name not in doc}
    update: dict[str, Any] = {"$set": to_set}
    if to_unset:
        update["$unset"] = to_unset
    return update


def _error_info(error: dict[str, Any] | None) -> ErrorInfo | None:
    if not error:
        return None
    return ErrorInfo(FailureKind(error["kind"]), error.get("code"), error["message"], error["at"])


def from_document(doc: dict[str, Any]) -> IncomingMessage:
    error = doc.get("last_error")
    return IncomingMessage(
        channel_id=doc["channel_id"],
        message_id=doc["message_id"],
        text=doc["text"],
        received_at=doc["received_at"],
        posted_at=doc.get("posted_at"),
        status=MessageStatus(doc["processing_status"]),
        retry_count=doc.get("retry_count") or 0,
        retry_after=doc.get("retry_after"),
        lease_owner=doc.get("lease_owner"),
        lease_until=doc.get("lease_until"),
        last_error=_error_info(error),
        result=doc.get("result"),
        updated_at=doc.get("updated_at"),
        done_at=doc.get("done_at"),
        from_cache=bool(doc.get("from_cache", False)),
    )


def due_filter(now: datetime) -> dict[str, Any]:
    """Waiting and due: PENDING (whatever retry_after a reset by hand left behind), or RETRY
    whose retry_after has passed (or is unset)."""
    return {
        "$or": [
            {"processing_status": str(MessageStatus.PENDING)},
            {"processing_status": str(MessageStatus.RETRY), "retry_after": {"$lte": now}},
            {"processing_status": str(MessageStatus.RETRY), "retry_after": None},
        ]
    }
