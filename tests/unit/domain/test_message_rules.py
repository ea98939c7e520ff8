"""The state machine's rules as data, and the entity's methods making exactly those changes
(what the stores translate must be what the domain does)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from channel_parser.domain.failures import FailureKind, LLMFailure
from channel_parser.domain.message import ErrorInfo, IncomingMessage
from channel_parser.domain.message_rules import (
    DUE,
    EDITABLE,
    EDITS_IN_PLACE,
    EDITS_REPARSED,
    LEASED,
    WAITING,
    Changes,
    EditRule,
    back_to_waiting_changes,
    claim_changes,
    edit_changes,
    edit_requeue_changes,
    released_changes,
    requeue_changes,
    tried_before,
)
from channel_parser.domain.status import MessageStatus
from tests.unit.domain.support import LEASE, T0, at, make_message, snapshot

NOT_WAITING = [MessageStatus.PROCESSING, MessageStatus.DONE, MessageStatus.ERROR]


def assert_changed_exactly(
    before: dict[str, Any], after: IncomingMessage, changes: Changes
) -> None:
    """Every field named in *changes* has its value; every other field kept its own."""
    now = snapshot(after)
    for name, value in changes.items():
        assert getattr(after, name) == value, name
    assert {n: v for n, v in now.items() if n not in changes} == {
        n: v for n, v in before.items() if n not in changes
    }


# -- due and waiting ---------------------------------------------------------------


def test_pending_is_due_at_once_whatever_its_retry_after() -> None:
    assert DUE.is_due(MessageStatus.PENDING, None, T0)
    assert DUE.is_due(MessageStatus.PENDING, at(3600), T0)  # left behind by a reset by hand


@pytest.mark.parametrize(
    ("retry_after", "due"), [(None, True), (at(-1), True), (T0, True), (at(0.001), False)]
)
def test_retry_is_due_once_its_retry_after_has_passed(
    retry_after: datetime | None, due: bool
) -> None:
    assert DUE.is_due(MessageStatus.RETRY, retry_after, T0) is due
    message = make_message(MessageStatus.RETRY, retry_count=1, retry_after=retry_after)
    assert message.is_due(T0) is due


@pytest.mark.parametrize("status", NOT_WAITING)
def test_other_statuses_are_never_due(status: MessageStatus) -> None:
    assert not DUE.is_due(status, None, T0)
    assert not DUE.is_due(status, at(-60), T0)
    assert not make_message(status).is_due(at(10**6))


def test_waiting_statuses_are_those_that_can_become_due() -> None:
    assert {MessageStatus.PENDING, MessageStatus.RETRY} == WAITING
    assert DUE.at_once | DUE.after_retry_time == WAITING
    assert LEASED is MessageStatus.PROCESSING and LEASED not in WAITING


def test_editable_statuses_exclude_the_leased_and_the_done() -> None:
    assert {MessageStatus.PENDING, MessageStatus.RETRY, MessageStatus.ERROR} == EDITABLE


def test_tried_before_means_an_attempt_was_counted() -> None:
    assert not tried_before(0)
    assert tried_before(1) and tried_before(7)


# -- the methods make the changes of their rules -----------------------------------


def test_claim_makes_the_claim_changes() -> None:
    message = make_message(MessageStatus.RETRY, retry_count=2, retry_after=T0)
    before = snapshot(message)
    message.claim("w1", at(5), LEASE)
    assert_changed_exactly(before, message, claim_changes("w1", at(5), LEASE))
    assert message.status is LEASED and message.lease_until == at(5) + LEASE


@pytest.mark.parametrize("status", [s for s in MessageStatus if s is not LEASED])
def test_requeue_makes_the_requeue_changes(status: MessageStatus) -> None:
    error = ErrorInfo(FailureKind.REJECTED, "400", "refused", T0)
    message = make_message(status, retry_count=3, retry_after=at(30), last_error=error)
    before = snapshot(message)
    message.requeue(at(9))
    assert_changed_exactly(before, message, requeue_changes(at(9)))
    assert message.retry_count == 0 and message.status is MessageStatus.PENDING


@pytest.mark.parametrize("retry_count", [0, 1, 4])
def test_recovery_and_release_make_the_back_to_waiting_changes(retry_count: int) -> None:
    for end in ("recover", "release"):
        message = make_message(MessageStatus.RETRY, retry_count=retry_count, retry_after=T0)
        if not retry_count:
            message = make_message()
        message.claim("w1", T0, LEASE)
        before = snapshot(message)
        now = T0 + LEASE
        if end == "recover":
            message.recover_stuck(now)
        else:
            message.release("w1", now)
        expected = back_to_waiting_changes(tried_before(retry_count), now)
        assert_changed_exactly(before, message, expected)
        assert message.is_due(now)
        status = MessageStatus.RETRY if retry_count else MessageStatus.PENDING
        assert message.status is status and message.retry_count == retry_count


def test_every_end_of_a_lease_releases_it() -> None:
    failure = LLMFailure(FailureKind.REJECTED, "400", "refused")
    for end in ("succeed", "fail"):
        message = make_message()
        message.claim("w1", T0, LEASE)
        if end == "succeed":
            message.succeed("w1", {}, at(1))
        else:
            message.fail("w1", failure, at(1))
        for name, value in released_changes(at(1)).items():
            assert getattr(message, name) == value


@pytest.mark.parametrize("status", sorted(EDITABLE))
def test_edit_makes_the_edit_changes(status: MessageStatus) -> None:
    message = make_message(status, text="old")
    before = snapshot(message)
    assert message.edit_text("new", at(5))
    assert_changed_exactly(before, message, edit_changes("new", at(5)))


def test_edit_rules_differ_only_in_what_happens_to_a_parsed_post() -> None:
    assert EDITS_IN_PLACE.in_place == EDITS_REPARSED.in_place == EDITABLE
    assert EDITS_IN_PLACE.requeued == frozenset()
    assert EDITS_REPARSED.requeued == {MessageStatus.DONE}
    assert not EDITS_REPARSED.takes(LEASED) and not EDITS_IN_PLACE.takes(MessageStatus.DONE)
    with pytest.raises(ValueError, match="one way"):
        EditRule(in_place=frozenset({MessageStatus.DONE}), requeued=frozenset({MessageStatus.DONE}))
    with pytest.raises(ValueError, match="leased"):
        EditRule(in_place=frozenset({LEASED}))


def test_an_edit_of_a_parsed_post_makes_the_edit_requeue_changes() -> None:
    message = make_message(MessageStatus.DONE, text="old", result={"a": 1}, done_at=at(1))
    before = snapshot(message)
    assert message.edit_text("new", at(5), EDITS_REPARSED)
    assert_changed_exactly(before, message, edit_requeue_changes("new", at(5)))


@pytest.mark.parametrize("status", sorted(EDITABLE))
def test_in_place_edits_are_the_same_under_both_rules(status: MessageStatus) -> None:
    message = make_message(status, text="old")
    before = snapshot(message)
    assert message.edit_text("new", at(5), EDITS_REPARSED)
    assert_changed_exactly(before, message, edit_changes("new", at(5)))
