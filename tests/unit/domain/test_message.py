"""IncomingMessage: every legal transition and its fields, every illegal one refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from channel_parser.domain.backoff import BackoffPolicy
from channel_parser.domain.errors import DomainError, InvalidTransition, LeaseLost, NaiveDatetime
from channel_parser.domain.failures import FailureKind, LLMFailure
from channel_parser.domain.message import ErrorInfo, IncomingMessage, MessageKey, RetryScheduled
from channel_parser.domain.message_rules import EDITS_REPARSED, WAITING
from channel_parser.domain.status import MessageStatus
from channel_parser.domain.usage import NO_USAGE, LLMUsage
from tests.unit.domain.support import LEASE, NAIVE, T0, at, make_message, snapshot

POLICY = BackoffPolicy()
CONCURRENCY = LLMFailure(
    FailureKind.CONCURRENCY_LIMITED, "1302", "High concurrency usage of this API"
)
QUOTA = LLMFailure(FailureKind.QUOTA_EXHAUSTED, "insufficient_quota", "balance is empty")


def claimed(owner: str = "w1", now_s: float = 0, **fields: object) -> IncomingMessage:
    message = make_message(**fields)  # type: ignore[arg-type]
    message.claim(owner, at(now_s), LEASE)
    return message


def in_retry(retry_count: int = 1, due_s: float = 30) -> IncomingMessage:
    return make_message(MessageStatus.RETRY, retry_count=retry_count, retry_after=at(due_s))


# -- identity and construction -------------------------------------------------


def test_key_is_channel_and_message_id() -> None:
    message = make_message(channel_id=-100, message_id=7)
    assert message.key == MessageKey(-100, 7)
    assert str(message.key) == "-100/7"
    assert MessageKey(1, 2) < MessageKey(1, 3) < MessageKey(2, 0)


def test_new_message_is_pending_and_clean() -> None:
    message = make_message()
    assert message.status is MessageStatus.PENDING
    assert message.retry_count == 0
    assert message.retry_after is None
    assert message.lease_owner is None and message.lease_until is None
    assert message.last_error is None and message.result is None


def test_naive_received_at_is_refused() -> None:
    with pytest.raises(NaiveDatetime):
        make_message(received_at=NAIVE)


def test_statuses_are_lowercase_strings_as_stored() -> None:
    assert [s.value for s in MessageStatus] == ["pending", "processing", "retry", "done", "error"]
    assert {MessageStatus.PENDING, MessageStatus.RETRY} == WAITING


# -- claim -------------------------------------------------------------------


def test_claim_pending_takes_a_lease() -> None:
    message = make_message()
    message.claim("w1", at(5), LEASE)
    assert message.status is MessageStatus.PROCESSING
    assert message.lease_owner == "w1"
    assert message.lease_until == at(5) + LEASE
    assert message.updated_at == at(5)


def test_claim_due_retry_keeps_the_count() -> None:
    message = in_retry(retry_count=2, due_s=60)
    message.claim("w1", at(60), LEASE)  # exactly at retry_after: due
    assert message.status is MessageStatus.PROCESSING
    assert message.retry_count == 2


def test_claim_retry_without_retry_after_is_allowed() -> None:
    message = make_message(MessageStatus.RETRY, retry_count=1)
    assert message.is_due(T0)
    message.claim("w1", T0, LEASE)
    assert message.status is MessageStatus.PROCESSING


@pytest.mark.parametrize(
    "status", [MessageStatus.DONE, MessageStatus.ERROR, MessageStatus.PROCESSING]
)
def test_claim_refused_unless_waiting(status: MessageStatus) -> None:
    message = make_message(status)
    before = snapshot(message)
    with pytest.raises(InvalidTransition, match="cannot claim"):
        message.claim("w1", T0, LEASE)
    assert snapshot(message) == before


def test_claim_of_processing_message_by_other_owner_is_refused() -> None:
    message = claimed("w1")
    before = snapshot(message)
    with pytest.raises(InvalidTransition):
        message.claim("w2", at(1), LEASE)
    assert snapshot(message) == before


def test_claim_of_retry_not_yet_due_is_refused() -> None:
    message = in_retry(due_s=30)
    before = snapshot(message)
    assert not message.is_due(at(29.999))
    with pytest.raises(InvalidTransition, match="not due"):
        message.claim("w1", at(29.999), LEASE)
    assert snapshot(message) == before


@pytest.mark.parametrize("lease", [timedelta(0), timedelta(seconds=-1)])
def test_claim_with_non_positive_lease_is_refused(lease: timedelta) -> None:
    message = make_message()
    before = snapshot(message)
    with pytest.raises(ValueError, match="lease"):
        message.claim("w1", T0, lease)
    assert snapshot(message) == before


def test_claim_with_naive_now_is_refused() -> None:
    message = make_message()
    before = snapshot(message)
    with pytest.raises(NaiveDatetime):
        message.claim("w1", NAIVE, LEASE)
    assert snapshot(message) == before


# -- succeed -----------------------------------------------------------------


def test_succeed_stores_result_and_clears_lease_and_error() -> None:
    message = in_retry(retry_count=2, due_s=0)
    message.last_error = ErrorInfo(FailureKind.TRANSIENT, "500", "boom", T0)
    message.claim("w1", at(1), LEASE)
    message.succeed("w1", {"price": 100}, at(3), from_cache=True)
    assert message.status is MessageStatus.DONE
    assert message.result == {"price": 100}
    assert message.from_cache is True
    assert message.done_at == at(3) and message.updated_at == at(3)
    assert message.lease_owner is None and message.lease_until is None
    assert message.last_error is None and message.retry_after is None
    assert message.retry_count == 2  # the history of attempts stays


def test_succeed_without_the_lease_is_refused() -> None:
    message = make_message()
    before = snapshot(message)
    with pytest.raises(InvalidTransition):
        message.succeed("w1", {}, T0)
    assert snapshot(message) == before


def test_succeed_by_another_owner_is_lease_lost() -> None:
    message = claimed("w1")
    before = snapshot(message)
    with pytest.raises(LeaseLost):
        message.succeed("w2", {"x": 1}, at(1))
    assert snapshot(message) == before


def test_succeed_after_recovery_is_lease_lost_for_the_old_worker() -> None:
    message = claimed("w1")
    message.recover_stuck(at(LEASE.total_seconds()))
    message.claim("w2", at(200), LEASE)
    with pytest.raises(LeaseLost):
        message.succeed("w1", {"late": True}, at(201))
    assert message.lease_owner == "w2"
    assert message.result is None


def test_lease_lost_is_a_domain_error() -> None:
    assert issubclass(LeaseLost, InvalidTransition)
    assert issubclass(InvalidTransition, DomainError)
    assert issubclass(NaiveDatetime, DomainError)


# -- schedule_retry ----------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "delay"), [(0, 30), (1, 60), (2, 120), (3, 240), (4, 480), (9, 480)]
)
def test_schedule_retry_counts_the_attempt_and_backs_off(count: int, delay: int) -> None:
    message = make_message(MessageStatus.RETRY, retry_count=count, retry_after=T0)
    message.claim("w1", at(10), LEASE)
    scheduled = message.schedule_retry("w1", CONCURRENCY, POLICY, at(12))
    assert message.status is MessageStatus.RETRY
    assert message.retry_count == count + 1
    assert message.retry_after == at(12 + delay)
    assert scheduled == RetryScheduled(count + 1, timedelta(seconds=delay), at(12 + delay))
    assert message.last_error == ErrorInfo(
        FailureKind.CONCURRENCY_LIMITED, "1302", "High concurrency usage of this API", at(12)
    )
    assert message.lease_owner is None and message.lease_until is None
    assert message.updated_at == at(12)


def test_schedule_retry_uses_the_providers_later_time() -> None:
    failure = LLMFailure(FailureKind.RATE_LIMITED, "429", "slow down", retry_at=at(900))
    message = claimed("w1")
    scheduled = message.schedule_retry("w1", failure, POLICY, at(1))
    assert message.retry_after == at(900)
    assert scheduled.delay == timedelta(seconds=899)


def test_schedule_retry_with_jitter_uses_u() -> None:
    message = claimed("w1")
    message.schedule_retry("w1", CONCURRENCY, BackoffPolicy(jitter=0.5), T0, u=0.0)
    assert message.retry_after == at(15)


def test_schedule_retry_by_another_owner_is_lease_lost() -> None:
    message = claimed("w1")
    before = snapshot(message)
    with pytest.raises(LeaseLost):
        message.schedule_retry("w2", CONCURRENCY, POLICY, at(1))
    assert snapshot(message) == before


def test_schedule_retry_with_invalid_u_leaves_the_message_unchanged() -> None:
    # Regression: retry_count used to be incremented before the policy raised.
    message = claimed("w1")
    before = snapshot(message)
    with pytest.raises(ValueError, match="u must be"):
        message.schedule_retry("w1", CONCURRENCY, BackoffPolicy(jitter=0.2), at(1), u=2.0)
    assert snapshot(message) == before


def test_schedule_retry_with_naive_now_leaves_the_message_unchanged() -> None:
    message = claimed("w1")
    before = snapshot(message)
    with pytest.raises(NaiveDatetime):
        message.schedule_retry("w1", CONCURRENCY, POLICY, NAIVE)
    assert snapshot(message) == before


# -- fail --------------------------------------------------------------------


def test_fail_records_the_error_and_clears_lease_and_retry_after() -> None:
    message = make_message(MessageStatus.RETRY, retry_count=3, retry_after=T0)
    message.claim("w1", at(1), LEASE)
    message.fail("w1", QUOTA, at(2))
    assert message.status is MessageStatus.ERROR
    assert message.last_error == ErrorInfo(
        FailureKind.QUOTA_EXHAUSTED, "insufficient_quota", "balance is empty", at(2)
    )
    assert message.retry_after is None
    assert message.retry_count == 3
    assert message.lease_owner is None and message.lease_until is None


def test_fail_without_lease_is_refused() -> None:
    message = make_message(MessageStatus.DONE)
    before = snapshot(message)
    with pytest.raises(InvalidTransition):
        message.fail("w1", QUOTA, T0)
    assert snapshot(message) == before


# -- apply_failure -----------------------------------------------------------


@pytest.mark.parametrize(
    "kind",
    [FailureKind.CONCURRENCY_LIMITED, FailureKind.RATE_LIMITED, FailureKind.TRANSIENT],
)
def test_apply_failure_retry_kinds_go_to_retry(kind: FailureKind) -> None:
    message = claimed("w1")
    scheduled = message.apply_failure("w1", LLMFailure(kind, "c", "m"), POLICY, at(1))
    assert message.status is MessageStatus.RETRY
    assert scheduled == RetryScheduled(1, timedelta(seconds=30), at(31))
    assert message.last_error is not None and message.last_error.kind is kind


@pytest.mark.parametrize(
    "kind", [FailureKind.QUOTA_EXHAUSTED, FailureKind.REJECTED, FailureKind.MISCONFIGURED]
)
def test_apply_failure_error_kinds_go_to_error(kind: FailureKind) -> None:
    message = claimed("w1")
    assert message.apply_failure("w1", LLMFailure(kind, "c", "m"), POLICY, at(1)) is None
    assert message.status is MessageStatus.ERROR
    assert message.retry_count == 0
    assert message.last_error is not None and message.last_error.kind is kind


def test_apply_failure_covers_every_kind() -> None:
    outcomes = {}
    for kind in FailureKind:
        message = claimed("w1")
        message.apply_failure("w1", LLMFailure(kind), POLICY, at(1))
        outcomes[kind] = message.status
    assert outcomes == {
        FailureKind.QUOTA_EXHAUSTED: MessageStatus.ERROR,
        FailureKind.CONCURRENCY_LIMITED: MessageStatus.RETRY,
        FailureKind.RATE_LIMITED: MessageStatus.RETRY,
        FailureKind.TRANSIENT: MessageStatus.RETRY,
        FailureKind.REJECTED: MessageStatus.ERROR,
        FailureKind.MISCONFIGURED: MessageStatus.ERROR,
        FailureKind.INTERNAL: MessageStatus.RETRY,
    }


def test_internal_errors_retry_with_the_backoff_then_stop_at_the_limit() -> None:
    """Whatever goes wrong, the calls per message are bounded: internal errors are retried
    on the backoff schedule and the third in a row (the default) is an ERROR."""
    internal = LLMFailure(FailureKind.INTERNAL, "RecursionError", "maximum recursion depth")
    message = claimed("w1")
    delays = []
    for attempt in range(1, 4):
        scheduled = message.apply_failure("w1", internal, POLICY, at(attempt * 1000))
        if scheduled is None:
            break
        delays.append(scheduled.delay.total_seconds())
        assert message.last_error is not None and message.last_error.repeats == attempt
        message.claim("w1", at(attempt * 1000 + 500), LEASE)
    assert delays == [30, 60]
    assert message.status is MessageStatus.ERROR
    assert message.last_error is not None
    assert (message.last_error.kind, message.last_error.repeats) == (FailureKind.INTERNAL, 3)
    assert message.retry_count == 2


def test_another_failure_between_internal_errors_restarts_the_count() -> None:
    internal = LLMFailure(FailureKind.INTERNAL, "ValueError", "x")
    message = claimed("w1")
    message.apply_failure("w1", internal, POLICY, at(1), internal_limit=2)
    message.claim("w1", at(100), LEASE)
    message.apply_failure("w1", CONCURRENCY, POLICY, at(101), internal_limit=2)
    assert message.last_error is not None and message.last_error.repeats == 1
    message.claim("w1", at(1000), LEASE)
    assert message.apply_failure("w1", internal, POLICY, at(1001), internal_limit=2) is not None
    assert message.status is MessageStatus.RETRY
    message.claim("w1", at(2000), LEASE)
    assert message.apply_failure("w1", internal, POLICY, at(2001), internal_limit=2) is None
    assert message.status is MessageStatus.ERROR


def test_repeats_count_failures_of_one_kind_in_a_row() -> None:
    first = ErrorInfo.after(None, CONCURRENCY, at(1))
    second = ErrorInfo.after(first, CONCURRENCY, at(2))
    other = ErrorInfo.after(second, QUOTA, at(3))
    assert [first.repeats, second.repeats, other.repeats] == [1, 2, 1]
    assert second.at == at(2) and other.kind is FailureKind.QUOTA_EXHAUSTED


def test_apply_failure_by_another_owner_is_lease_lost() -> None:
    message = claimed("w1")
    before = snapshot(message)
    with pytest.raises(LeaseLost):
        message.apply_failure("w2", CONCURRENCY, POLICY, at(1))
    with pytest.raises(LeaseLost):
        message.apply_failure("w2", QUOTA, POLICY, at(1))
    assert snapshot(message) == before


# -- requeue -----------------------------------------------------------------


@pytest.mark.parametrize(
    "status", [MessageStatus.RETRY, MessageStatus.ERROR, MessageStatus.DONE, MessageStatus.PENDING]
)
def test_requeue_resets_to_a_clean_pending(status: MessageStatus) -> None:
    # SPEC FAQ: "set the message's status back to PENDING and remove retry_count".
    message = make_message(
        status,
        retry_count=4,
        retry_after=at(480),
        last_error=ErrorInfo(FailureKind.RATE_LIMITED, "429", "x", T0),
        result={"a": 1} if status is MessageStatus.DONE else None,
        done_at=T0 if status is MessageStatus.DONE else None,
        from_cache=status is MessageStatus.DONE,
    )
    message.requeue(at(1000))
    assert message.status is MessageStatus.PENDING
    assert message.retry_count == 0
    assert message.retry_after is None
    assert message.last_error is None
    assert message.result is None and message.done_at is None and message.from_cache is False
    assert message.updated_at == at(1000)
    assert message.is_due(at(1000))


def test_requeue_of_processing_is_refused() -> None:
    message = claimed("w1")
    before = snapshot(message)
    with pytest.raises(InvalidTransition, match="being processed"):
        message.requeue(at(1))
    assert snapshot(message) == before


# -- recover_stuck -----------------------------------------------------------


def test_recover_stuck_without_retries_goes_pending() -> None:
    message = claimed("w1")
    message.recover_stuck(at(LEASE.total_seconds()))  # exactly at lease_until: expired
    assert message.status is MessageStatus.PENDING
    assert message.retry_after is None
    assert message.lease_owner is None and message.lease_until is None


def test_recover_stuck_with_retries_is_a_retry_due_now() -> None:
    message = make_message(MessageStatus.RETRY, retry_count=2, retry_after=T0)
    message.claim("w1", T0, LEASE)
    now = at(600)
    message.recover_stuck(now)
    assert message.status is MessageStatus.RETRY
    assert message.retry_count == 2
    assert message.retry_after == now
    assert message.is_due(now)
    assert message.lease_owner is None and message.lease_until is None


def test_recover_before_lease_expires_is_refused() -> None:
    message = claimed("w1")
    before = snapshot(message)
    assert not message.lease_expired(at(LEASE.total_seconds() - 0.001))
    with pytest.raises(InvalidTransition, match="not expired"):
        message.recover_stuck(at(LEASE.total_seconds() - 0.001))
    assert snapshot(message) == before


@pytest.mark.parametrize(
    "status", [MessageStatus.PENDING, MessageStatus.RETRY, MessageStatus.DONE, MessageStatus.ERROR]
)
def test_recover_of_a_message_not_processing_is_refused(status: MessageStatus) -> None:
    message = make_message(status)
    assert not message.lease_expired(at(10**6))
    with pytest.raises(InvalidTransition):
        message.recover_stuck(at(10**6))


# -- edit_text ---------------------------------------------------------------


@pytest.mark.parametrize(
    "status", [MessageStatus.PENDING, MessageStatus.RETRY, MessageStatus.ERROR]
)
def test_edit_text_before_parsing_finished_is_taken(status: MessageStatus) -> None:
    message = make_message(status, text="old")
    assert message.edit_text("new", at(5)) is True
    assert message.text == "new"
    assert message.updated_at == at(5)
    assert message.status is status


@pytest.mark.parametrize("status", [MessageStatus.DONE, MessageStatus.PROCESSING])
def test_edit_text_after_parsing_started_is_ignored(status: MessageStatus) -> None:
    message = make_message(status, text="old")
    before = snapshot(message)
    assert message.edit_text("new", at(5)) is False
    assert snapshot(message) == before


def test_edit_text_with_same_text_is_not_a_change() -> None:
    message = make_message(text="same")
    assert message.edit_text("same", at(5)) is False
    assert message.updated_at is None
    assert message.edit_text("same", at(5), EDITS_REPARSED) is False


def test_an_edit_records_when_it_came() -> None:
    message = make_message(text="old")
    assert message.edit_text("new", at(5))
    assert message.edited_at == at(5)


def test_an_edit_of_a_parsed_post_queues_it_again_when_edits_are_reparsed() -> None:
    message = claimed(text="Вакансия: Python-разработчик")
    message.spend("w1", LLMUsage(300, 40, 1, 0.8))
    message.succeed("w1", {"title": "Python"}, at(1), model="glm-4.6", parser_fingerprint="f")
    assert message.edit_text("Вакансия закрыта", at(60), EDITS_REPARSED) is True
    assert (message.status, message.text, message.edited_at) == (
        MessageStatus.PENDING,
        "Вакансия закрыта",
        at(60),
    )
    # the old result is not kept: the post is parsed again as if new
    assert message.result is None and message.done_at is None
    assert message.usage == NO_USAGE and message.model is None
    assert message.parser_fingerprint is None
    assert message.is_due(at(60))


def test_an_edit_while_processing_is_not_taken_even_when_edits_are_reparsed() -> None:
    message = claimed(text="old")
    assert message.edit_text("new", at(5), EDITS_REPARSED) is False
    assert message.text == "old"


# -- what parsing cost ------------------------------------------------------------


def test_usage_accumulates_over_attempts_and_is_kept_on_success() -> None:
    message = claimed()
    message.spend("w1", LLMUsage(calls=1, seconds=0.1))  # refused with 1302
    message.schedule_retry("w1", CONCURRENCY, POLICY, at(1))
    message.claim("w2", at(40), LEASE)
    message.spend("w2", LLMUsage(200, 30, 2, 1.5))  # an answer and its repair
    message.succeed("w2", {"a": 1}, at(42), model="glm-4.6", parser_fingerprint="abc")
    assert message.usage == LLMUsage(200, 30, 3, 1.6)
    assert (message.model, message.parser_fingerprint) == ("glm-4.6", "abc")


def test_usage_is_recorded_only_by_the_lease_holder() -> None:
    message = claimed("w1")
    with pytest.raises(LeaseLost):
        message.spend("w2", LLMUsage(calls=1))
    with pytest.raises(InvalidTransition):
        make_message().spend("w1", LLMUsage(calls=1))
    assert message.usage == NO_USAGE


def test_a_requeue_clears_what_the_last_result_cost() -> None:
    message = claimed()
    message.spend("w1", LLMUsage(10, 10, 1))
    message.succeed("w1", {}, at(1), model="m", parser_fingerprint="f")
    message.requeue(at(2))
    assert (message.usage, message.model, message.parser_fingerprint) == (NO_USAGE, None, None)


# -- full lifecycles -----------------------------------------------------------


def test_spec_lifecycle_concurrency_errors_then_success() -> None:
    """Three 1302 refusals back off 30, 60, 120 s; the fourth attempt succeeds."""
    message = make_message()
    now = T0
    for attempt, delay in enumerate([30, 60, 120], start=1):
        message.claim("w1", now, LEASE)
        scheduled = message.apply_failure("w1", CONCURRENCY, POLICY, now + timedelta(seconds=1))
        assert scheduled is not None
        assert scheduled.attempt == attempt == message.retry_count
        assert scheduled.delay == timedelta(seconds=delay)
        with pytest.raises(InvalidTransition):
            message.claim("w1", scheduled.retry_after - timedelta(microseconds=1), LEASE)
        now = scheduled.retry_after
    message.claim("w1", now, LEASE)
    message.succeed("w1", {"ok": True}, now + timedelta(seconds=2))
    assert message.status is MessageStatus.DONE
    assert message.retry_count == 3
