"""Property tests of the message state machine: random sequences of transitions,
legal and illegal, with a time that only moves forward."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from channel_parser.domain.backoff import BackoffPolicy
from channel_parser.domain.errors import DomainError, NaiveDatetime
from channel_parser.domain.failures import FailureKind, LLMFailure
from channel_parser.domain.message import IncomingMessage
from channel_parser.domain.message_rules import WAITING
from channel_parser.domain.status import MessageStatus
from tests.unit.domain.support import FAST, NAIVE, T0, make_message, snapshot

# Mostly the worker that claims, sometimes a stranger to the lease.
OWNERS = st.sampled_from(["w1", "w1", "w1", "w2"])
LEASES = st.integers(min_value=1, max_value=300).map(lambda s: timedelta(seconds=s))
# Mostly valid jitter draws, sometimes out of range (which must be refused cleanly).
U = st.one_of(
    st.none(),
    st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
    st.sampled_from([-0.1, 1.0, 2.0, float("nan")]),
)
PROVIDER_OFFSET = st.one_of(st.none(), st.integers(min_value=-600, max_value=3600))
POLICIES = st.sampled_from([BackoffPolicy(), BackoffPolicy(jitter=0.3)])
KINDS = st.sampled_from(FailureKind)


_JITTERED = BackoffPolicy(jitter=0.3)
_TRANSIENT = LLMFailure(FailureKind.TRANSIENT)
_ZERO = timedelta(0)

# Calls that must be refused whatever the state: naive times, bad jitter draws,
# empty leases. Each takes (message, owner, now).
BAD_INPUT: dict[str, Callable[[IncomingMessage, str, datetime], object]] = {
    "claim_naive": lambda m, o, _: m.claim(o, NAIVE, timedelta(seconds=10)),
    "claim_empty_lease": lambda m, o, now: m.claim(o, now, _ZERO),
    "succeed_naive": lambda m, o, _: m.succeed(o, {}, NAIVE),
    "retry_naive": lambda m, o, _: m.schedule_retry(o, _TRANSIENT, BackoffPolicy(), NAIVE),
    "retry_bad_u": lambda m, o, now: m.schedule_retry(o, _TRANSIENT, _JITTERED, now, u=1.5),
    "apply_bad_u": lambda m, o, now: m.apply_failure(o, _TRANSIENT, _JITTERED, now, u=-0.5),
    "fail_naive": lambda m, o, _: m.fail(o, _TRANSIENT, NAIVE),
    "requeue_naive": lambda m, _o, _n: m.requeue(NAIVE),
    "recover_naive": lambda m, _o, _n: m.recover_stuck(NAIVE),
    "release_naive": lambda m, o, _: m.release(o, NAIVE),
    "edit_naive": lambda m, _o, _n: m.edit_text("naive edit", NAIVE),
}


class MessageLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.message: IncomingMessage = make_message()
        self.now: datetime = T0
        self.max_retry_count = 0
        self.last_updated: datetime | None = None

    # -- the harness: run one transition, check legality and what it changed --

    def _run(
        self, name: str, legal: bool, call: Callable[[], object], *, requeue: bool = False
    ) -> None:
        before = snapshot(self.message)
        before_status = self.message.status
        before_retry_after = self.message.retry_after
        try:
            call()
        except (DomainError, ValueError) as error:
            assert not legal, f"{name} refused a legal move: {error!r}"
            assert snapshot(self.message) == before, f"{name} changed the message, then raised"
            return
        assert legal, f"{name} allowed an illegal move from {before_status}"
        after = self.message
        if before_status is MessageStatus.DONE and not requeue:
            # No way out of DONE except an explicit requeue.
            assert after.status is MessageStatus.DONE
        if after.retry_after is not None and after.retry_after != before_retry_after:
            assert after.retry_after >= self.now, "retry_after set in the past"
        if requeue:
            assert after.retry_count == 0
            self.max_retry_count = 0
        else:
            assert after.retry_count >= self.max_retry_count, "retry_count went down"
            self.max_retry_count = after.retry_count

    def _holds(self, owner: str) -> bool:
        return self.message.status is MessageStatus.PROCESSING and self.message.lease_owner == owner

    # -- time ------------------------------------------------------------------

    @rule(ms=st.integers(min_value=0, max_value=600_000))
    def advance(self, ms: int) -> None:
        self.now += timedelta(milliseconds=ms)

    @rule()
    def jump_to_retry_after(self) -> None:
        if self.message.retry_after is not None and self.message.retry_after > self.now:
            self.now = self.message.retry_after

    # -- transitions -------------------------------------------------------------

    @rule(owner=OWNERS, lease=LEASES)
    def claim(self, owner: str, lease: timedelta) -> None:
        legal = self.message.status in WAITING and self.message.is_due(self.now)
        self._run("claim", legal, lambda: self.message.claim(owner, self.now, lease))

    @precondition(lambda self: self.message.status is MessageStatus.PROCESSING)
    @rule(owner=OWNERS, cached=st.booleans())
    def succeed(self, owner: str, cached: bool) -> None:
        self._succeed(owner, cached)

    @precondition(lambda self: self.message.status is MessageStatus.PROCESSING)
    @rule(owner=OWNERS, kind=KINDS, offset=PROVIDER_OFFSET, policy=POLICIES, u=U)
    def apply_failure(
        self,
        owner: str,
        kind: FailureKind,
        offset: int | None,
        policy: BackoffPolicy,
        u: float | None,
    ) -> None:
        self._apply_failure(owner, kind, offset, policy, u)

    @precondition(lambda self: self.message.status is not MessageStatus.PROCESSING)
    @rule(
        action=st.sampled_from(["succeed", "failure"]),
        owner=OWNERS,
        kind=KINDS,
        policy=POLICIES,
        u=U,
    )
    def lease_move_without_a_lease(
        self, action: str, owner: str, kind: FailureKind, policy: BackoffPolicy, u: float | None
    ) -> None:
        if action == "succeed":
            self._succeed(owner, cached=False)
        else:
            self._apply_failure(owner, kind, None, policy, u)

    def _succeed(self, owner: str, cached: bool) -> None:
        self._run(
            "succeed",
            self._holds(owner),
            lambda: self.message.succeed(owner, {"ok": 1}, self.now, from_cache=cached),
        )

    def _apply_failure(
        self,
        owner: str,
        kind: FailureKind,
        offset: int | None,
        policy: BackoffPolicy,
        u: float | None,
    ) -> None:
        provider_at = None if offset is None else self.now + timedelta(seconds=offset)
        failure = LLMFailure(kind, "code", "text", retry_at=provider_at)
        retries = failure.effect.message_status is MessageStatus.RETRY
        bad_u = retries and bool(policy.jitter) and u is not None and not 0.0 <= u < 1.0
        legal = self._holds(owner) and not bad_u
        count = self.message.retry_count
        self._run(
            "apply_failure",
            legal,
            lambda: self.message.apply_failure(owner, failure, policy, self.now, u),
        )
        if legal:
            expected = MessageStatus.RETRY if retries else MessageStatus.ERROR
            assert self.message.status is expected
            assert self.message.retry_count == count + (1 if retries else 0)
            assert self.message.last_error is not None
            assert self.message.last_error.kind is kind

    @precondition(lambda self: self.message.status is MessageStatus.PROCESSING)
    @rule(owner=OWNERS)
    def release(self, owner: str) -> None:
        self._run("release", self._holds(owner), lambda: self.message.release(owner, self.now))
        if self.message.status is not MessageStatus.PROCESSING:  # released: claimable at once
            assert self.message.is_due(self.now)

    @rule()
    def requeue(self) -> None:
        legal = self.message.status is not MessageStatus.PROCESSING
        self._run("requeue", legal, lambda: self.message.requeue(self.now), requeue=True)

    @rule()
    def recover_stuck(self) -> None:
        legal = self.message.lease_expired(self.now)
        self._run("recover_stuck", legal, lambda: self.message.recover_stuck(self.now))

    @rule(text=st.sampled_from(["a", "b"]))
    def edit_text(self, text: str) -> None:
        self._run("edit_text", True, lambda: self.message.edit_text(text, self.now))

    @rule(name=st.sampled_from(sorted(BAD_INPUT)), owner=OWNERS)
    def bad_input_is_refused_without_a_trace(self, name: str, owner: str) -> None:
        """Whatever the state, a call with bad input raises and changes nothing."""
        before = snapshot(self.message)
        with pytest.raises((DomainError, ValueError)):
            BAD_INPUT[name](self.message, owner, self.now)
        assert snapshot(self.message) == before, f"{name} changed the message, then raised"

    # -- invariants ----------------------------------------------------------------

    @invariant()
    def lease_present_iff_processing(self) -> None:
        processing = self.message.status is MessageStatus.PROCESSING
        assert (self.message.lease_owner is not None) is processing
        assert (self.message.lease_until is not None) is processing

    @invariant()
    def retry_fields_are_coherent(self) -> None:
        m = self.message
        assert m.retry_count >= 0
        if m.status is MessageStatus.RETRY:
            assert m.retry_after is not None and m.retry_count >= 1
        if m.status in (MessageStatus.PENDING, MessageStatus.DONE, MessageStatus.ERROR):
            assert m.retry_after is None

    @invariant()
    def outcome_fields_match_status(self) -> None:
        m = self.message
        if m.status is MessageStatus.DONE:
            assert m.result is not None and m.last_error is None and m.done_at is not None
        else:
            assert m.result is None and m.done_at is None
        if m.status is MessageStatus.ERROR:
            assert m.last_error is not None

    @invariant()
    def updated_at_never_goes_back(self) -> None:
        updated = self.message.updated_at
        if updated is not None:
            assert updated <= self.now
            if self.last_updated is not None:
                assert updated >= self.last_updated
            self.last_updated = updated

    @invariant()
    def times_are_utc(self) -> None:
        for value in (self.message.retry_after, self.message.lease_until, self.message.updated_at):
            assert value is None or value.utcoffset() == timedelta(0)


MessageLifecycle.TestCase.settings = settings(FAST, max_examples=40, stateful_step_count=25)
TestMessageLifecycle = MessageLifecycle.TestCase


def test_naive_datetime_is_a_value_error_too() -> None:
    assert issubclass(NaiveDatetime, ValueError)
