"""The Mongo adapter's translation of the domain's rules (no server needed): applying the
translated update to a message's document gives the document of the message the domain
method produced, so the two cannot drift apart."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from channel_parser.adapters.storage.mongo_documents import (
    changes_update,
    due_filter,
    from_document,
    state_update,
    to_document,
)
from channel_parser.domain.errors import DomainError
from channel_parser.domain.failures import FailureKind
from channel_parser.domain.message import ErrorInfo, IncomingMessage
from channel_parser.domain.message_rules import (
    EDITS_REPARSED,
    Changes,
    back_to_waiting_changes,
    claim_changes,
    edit_changes,
    edit_requeue_changes,
    requeue_changes,
    tried_before,
)
from channel_parser.domain.status import MessageStatus
from channel_parser.domain.usage import LLMUsage
from tests.unit.domain.support import LEASE, T0, at, make_message

ERROR = ErrorInfo(FailureKind.CONCURRENCY_LIMITED, "1302", "High concurrency", T0)


def applied(doc: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """What a MongoDB-protocol server makes of *doc* under a $set/$unset *update*."""
    assert set(update) <= {"$set", "$unset"} and update
    out = {**doc, **update.get("$set", {})}
    for name in update.get("$unset", {}):
        out.pop(name, None)
    return out


def messages() -> list[IncomingMessage]:
    """One message in each status, with and without counted attempts."""
    leased = make_message(MessageStatus.RETRY, retry_count=2, retry_after=T0, last_error=ERROR)
    leased.claim("w1", T0, LEASE)
    fresh = make_message(message_id=43)
    fresh.claim("w1", T0, LEASE)
    done = make_message(message_id=44)
    done.claim("w1", T0, LEASE)
    done.succeed("w1", {"title": "t"}, at(1), from_cache=True)
    spent = make_message(message_id=45, edited_at=at(-5))
    spent.claim("w1", T0, LEASE)
    spent.spend("w1", LLMUsage(120, 30, 2, 1.5))
    spent.succeed("w1", {"title": "u"}, at(2), model="glm-4.6", parser_fingerprint="f1")
    return [
        make_message(),
        make_message(MessageStatus.RETRY, retry_count=3, retry_after=at(30), last_error=ERROR),
        make_message(MessageStatus.ERROR, last_error=ERROR),
        leased,
        fresh,
        done,
        spent,
    ]


Transition = tuple[Callable[[IncomingMessage], object], Callable[[IncomingMessage], Changes]]
NOW = T0 + LEASE
TRANSITIONS: dict[str, Transition] = {
    "claim": (
        lambda m: m.claim("w9", NOW, LEASE),
        lambda _m: claim_changes("w9", NOW, LEASE),
    ),
    "requeue": (lambda m: m.requeue(NOW), lambda _m: requeue_changes(NOW)),
    "recover_stuck": (
        lambda m: m.recover_stuck(NOW),
        # the adapter picks the branch by its TRIED_BEFORE filter
        lambda m: back_to_waiting_changes(tried_before(m.retry_count), NOW),
    ),
    "edit_text": (lambda m: m.edit_text("edited", NOW), lambda _m: edit_changes("edited", NOW)),
    "edit_text_reparsed": (
        lambda m: m.edit_text("edited", NOW, EDITS_REPARSED),
        # the adapter picks the update by its status filter (EditRule.requeued or in_place)
        lambda m: (edit_requeue_changes if EDITS_REPARSED.requeues(m.status) else edit_changes)(
            "edited", NOW
        ),
    ),
}


@pytest.mark.parametrize("name", sorted(TRANSITIONS))
def test_translated_update_does_what_the_domain_method_does(name: str) -> None:
    method, rule = TRANSITIONS[name]
    tried = 0
    for message in messages():
        before = to_document(message)
        changes = rule(message)
        try:
            outcome = method(message)
        except DomainError:  # an illegal move: the store's filter excludes it
            continue
        if outcome is False:  # edit_text refused: the filter excludes it too
            continue
        tried += 1
        assert applied(before, changes_update(changes)) == to_document(message)
    assert tried


def test_retry_count_zero_is_removed_and_status_is_lowercase_top_level() -> None:
    update = changes_update(requeue_changes(T0))
    assert update["$set"] == {"processing_status": "pending", "from_cache": False, "updated_at": T0}
    assert set(update["$unset"]) == {
        "retry_count",
        "retry_after",
        "last_error",
        "result",
        "done_at",
        "lease_owner",
        "lease_until",
        "usage",
        "model",
        "parser_fingerprint",
        "profile",
        "spec_hash",
    }


def test_back_to_waiting_after_attempts_is_a_retry_due_now() -> None:
    update = changes_update(back_to_waiting_changes(True, T0))
    assert update["$set"] == {"processing_status": "retry", "retry_after": T0, "updated_at": T0}
    assert set(update["$unset"]) == {"lease_owner", "lease_until"}


def test_state_update_writes_the_document_and_round_trips() -> None:
    for message in messages():
        doc = to_document(message)
        empty = {k: v for k, v in doc.items() if k in ("_id", "channel_id", "message_id", "text")}
        full = applied({**empty, "received_at": message.received_at}, state_update(message))
        assert full == doc
        assert from_document(doc) == message


def test_due_filter_is_the_due_rule() -> None:
    assert due_filter(T0) == {
        "$or": [
            {"processing_status": "pending"},
            {"processing_status": "PENDING"},
            {"processing_status": "Pending"},
            *(
                {"processing_status": spelled, "retry_after": when}
                for spelled in ("retry", "RETRY", "Retry")
                for when in ({"$lte": T0}, None)
            ),
        ]
    }


def test_writes_wait_for_a_majority_unless_the_uri_says_otherwise() -> None:
    from channel_parser.adapters.storage.mongo import durable_writes

    assert durable_writes("mongodb://db1,db2,db3/?replicaSet=rs0") == {"w": "majority"}
    assert durable_writes("mongodb://u:p@db/") == {"w": "majority"}
    assert durable_writes("mongodb://db/?replicaSet=rs0&w=1") == {}
    assert durable_writes("mongodb://db/?W=2&journal=true") == {}
