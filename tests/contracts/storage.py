"""The storage ports' contract: every implementation (in-memory, SQLite, MongoDB) passes it.

A subclass provides the ``stores`` fixture (a ``bootstrap.storage.Stores`` on an empty
store). Time is passed in as fixed aware datetimes; nothing sleeps.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from channel_parser.application.ports.storage import (
    ChannelMode,
    IngestOutcome,
    Learn,
    MessageFilter,
    MessageRepository,
    NewPost,
    PermitView,
    SlotTaken,
    StaleResults,
)
from channel_parser.bootstrap.storage import Stores
from channel_parser.domain.backoff import BackoffPolicy
from channel_parser.domain.concurrency import ConcurrencyLimit, LearnedLimit
from channel_parser.domain.failures import FailureKind, LLMFailure, NotificationKind
from channel_parser.domain.gate import GateState, QuotaGate
from channel_parser.domain.message import IncomingMessage, MessageKey
from channel_parser.domain.message_rules import EDITS_REPARSED
from channel_parser.domain.status import MessageStatus
from channel_parser.domain.throttle import NotificationThrottle, ThrottleDecision, ThrottleSlot
from channel_parser.domain.usage import NO_USAGE, LLMUsage

T0 = datetime(2026, 1, 25, 18, 42, 51, tzinfo=UTC)
LEASE = timedelta(seconds=180)
PERMIT_LEASE = timedelta(seconds=10)
POLICY = BackoffPolicy()
CONCURRENCY = LLMFailure(FailureKind.CONCURRENCY_LIMITED, "1302", "High concurrency usage")
QUOTA = LLMFailure(FailureKind.QUOTA_EXHAUSTED, "insufficient_quota", "no balance")
REJECTED = LLMFailure(FailureKind.REJECTED, "400", "refused")
THROTTLE = NotificationThrottle()


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def post(channel: int, message: int, text: str = "hello") -> NewPost:
    return NewPost(channel, message, text, posted_at=at(-60))


async def claimed(
    repo: MessageRepository, channel: int, message: int, now: datetime, owner: str = "w1"
) -> IncomingMessage:
    """Store a post and claim it (the store must hold no older due message)."""
    await repo.add(post(channel, message), now)
    got = await repo.claim_next(owner, now, LEASE)
    assert got is not None and got.key == MessageKey(channel, message)
    return got


async def in_retry(
    repo: MessageRepository, channel: int, message: int, now: datetime, attempts: int = 1
) -> IncomingMessage:
    """A message in RETRY after *attempts* failed attempts; its retry_after is in the future."""
    msg = await claimed(repo, channel, message, now)
    for attempt in range(attempts):
        if attempt:
            msg.status = MessageStatus.RETRY  # not persisted: only to claim again in memory
            msg.claim("w1", msg.retry_after or now, LEASE)
            msg.retry_after = None
        msg.schedule_retry("w1", CONCURRENCY, POLICY, now)
    assert await repo.save(msg, "w1")
    return msg


async def in_state(
    repo: MessageRepository, channel: int, message: int, now: datetime, failure: LLMFailure | None
) -> IncomingMessage:
    """A message DONE (failure None) or ERROR (failure given)."""
    msg = await claimed(repo, channel, message, now)
    if failure is None:
        msg.succeed("w1", {"title": "x"}, now)
    else:
        msg.fail("w1", failure, now)
    assert await repo.save(msg, "w1")
    return msg


class StorageContract:
    """Subclasses provide ``stores``."""

    @pytest.fixture
    def stores(self) -> Stores:
        raise NotImplementedError

    # -- ingestion -----------------------------------------------------------

    async def test_add_is_idempotent_and_get_reads_it_back(self, stores: Stores) -> None:
        repo = stores.messages
        assert await repo.add(post(1, 10), T0) is IngestOutcome.STORED
        assert await repo.add(post(1, 10), at(5)) is IngestOutcome.UNCHANGED
        got = await repo.get(MessageKey(1, 10))
        assert got is not None
        assert (got.text, got.status, got.retry_count) == ("hello", MessageStatus.PENDING, 0)
        assert got.received_at == T0 and got.posted_at == at(-60)
        assert got.retry_after is None and got.lease_owner is None and got.last_error is None
        assert await repo.get(MessageKey(1, 11)) is None
        assert (await repo.stats()).total == 1

    async def test_an_edit_before_parsing_replaces_the_text(self, stores: Stores) -> None:
        repo = stores.messages
        await repo.add(post(1, 10, "first"), T0)
        assert await repo.add(post(1, 10, "edited"), at(1)) is IngestOutcome.UPDATED
        got = await repo.get(MessageKey(1, 10))
        assert got is not None and got.text == "edited" and got.updated_at == at(1)

    async def test_an_edit_of_a_message_waiting_for_retry_is_taken(self, stores: Stores) -> None:
        await in_retry(stores.messages, 1, 10, T0)
        assert await stores.messages.add(post(1, 10, "edited"), at(1)) is IngestOutcome.UPDATED

    async def test_an_edit_of_a_failed_message_is_taken(self, stores: Stores) -> None:
        """A message in ERROR waits for a requeue, which should parse the edited text."""
        repo = stores.messages
        await in_state(repo, 1, 10, T0, REJECTED)
        assert await repo.add(post(1, 10, "edited"), at(1)) is IngestOutcome.UPDATED
        got = await repo.get(MessageKey(1, 10))
        assert got is not None and (got.text, got.updated_at) == ("edited", at(1))
        assert got.status is MessageStatus.ERROR and got.last_error is not None

    async def test_no_edit_while_processing_or_after_done(self, stores: Stores) -> None:
        repo = stores.messages
        await claimed(repo, 1, 10, T0)
        assert await repo.add(post(1, 10, "late"), at(1)) is IngestOutcome.UNCHANGED
        await in_state(repo, 1, 11, at(2), None)
        assert await repo.add(post(1, 11, "late"), at(3)) is IngestOutcome.UNCHANGED
        for key in (MessageKey(1, 10), MessageKey(1, 11)):
            got = await repo.get(key)
            assert got is not None and got.text == "hello"

    async def test_an_edit_of_a_parsed_post_queues_it_again_when_reparsed(
        self, stores: Stores
    ) -> None:
        repo = stores.messages
        msg = await claimed(repo, 1, 10, T0)
        msg.spend("w1", LLMUsage(100, 20, 1, 0.5))
        msg.succeed(
            "w1", {"title": "open"}, at(1), model="glm-4.6", parser_fingerprint="f1", profile="p"
        )
        assert await repo.save(msg, "w1")
        edited = post(1, 10, "vacancy closed")
        assert await repo.add(edited, at(60), EDITS_REPARSED) is IngestOutcome.REQUEUED
        got = await repo.get(msg.key)
        assert got is not None
        assert (got.status, got.text, got.edited_at) == (
            MessageStatus.PENDING,
            "vacancy closed",
            at(60),
        )
        assert got.result is None and got.done_at is None and got.usage == NO_USAGE
        assert got.model is None and got.parser_fingerprint is None and got.profile is None
        assert got.received_at == T0 and got.posted_at == at(-60)
        assert await repo.add(edited, at(61), EDITS_REPARSED) is IngestOutcome.UNCHANGED
        again = await repo.claim_next("w2", at(62), LEASE)
        assert again is not None and again.key == msg.key and again.text == "vacancy closed"

    async def test_reparsed_edits_leave_the_rest_as_before(self, stores: Stores) -> None:
        """In place before parsing finished; never while processing."""
        repo = stores.messages
        await repo.add(post(1, 10, "first"), T0)
        assert await repo.add(post(1, 10, "second"), at(1), EDITS_REPARSED) is (
            IngestOutcome.UPDATED
        )
        got = await repo.get(MessageKey(1, 10))
        assert got is not None and (got.text, got.status, got.edited_at) == (
            "second",
            MessageStatus.PENDING,
            at(1),
        )
        busy = await repo.claim_next("w1", at(2), LEASE)
        assert busy is not None and busy.key == MessageKey(1, 10)
        assert await repo.add(post(1, 10, "third"), at(3), EDITS_REPARSED) is (
            IngestOutcome.UNCHANGED
        )

    async def test_add_many_is_add_for_each_post_in_order(self, stores: Stores) -> None:
        repo = stores.messages
        await in_state(repo, 1, 2, T0, None)  # done: an edit is kept out
        await repo.add(post(1, 1, "pending, will be edited"), at(1))
        await repo.add(post(1, 3, "same"), at(2))
        batch = [
            post(1, 1, "edited before parsing"),
            post(1, 2, "late edit"),
            post(1, 3, "same"),
            post(1, 4, "new"),
            post(2, 4, "new in another channel"),
            post(1, 5, "twice"),
            post(1, 5, "twice, edited"),
        ]
        assert await repo.add_many(batch, at(10)) == [
            IngestOutcome.UPDATED,
            IngestOutcome.UNCHANGED,
            IngestOutcome.UNCHANGED,
            IngestOutcome.STORED,
            IngestOutcome.STORED,
            IngestOutcome.STORED,
            IngestOutcome.UPDATED,
        ]
        texts = {}
        for key in [(1, 1), (1, 2), (1, 3), (1, 4), (2, 4), (1, 5)]:
            got = await repo.get(MessageKey(*key))
            assert got is not None
            texts[key] = got.text
        assert texts == {
            (1, 1): "edited before parsing",
            (1, 2): "hello",
            (1, 3): "same",
            (1, 4): "new",
            (2, 4): "new in another channel",
            (1, 5): "twice, edited",
        }
        new = await repo.get(MessageKey(1, 4))
        assert new is not None and new.status is MessageStatus.PENDING
        assert new.received_at == at(10) and new.posted_at == at(-60)
        assert await repo.add_many([], at(11)) == []
        assert await repo.add_many(batch[3:5], at(12)) == [IngestOutcome.UNCHANGED] * 2
        assert (await repo.stats()).total == 6

    # -- claiming ------------------------------------------------------------

    async def test_claims_the_oldest_due_message_with_a_lease(self, stores: Stores) -> None:
        repo = stores.messages
        await repo.add(post(2, 5), at(2))
        await repo.add(post(1, 7), at(1))
        await repo.add(post(3, 1), at(3))
        order = []
        for i in range(3):
            got = await repo.claim_next(f"w{i}", at(10), LEASE)
            assert got is not None
            assert got.status is MessageStatus.PROCESSING
            assert got.lease_owner == f"w{i}" and got.lease_until == at(10) + LEASE
            order.append(got.key)
        assert order == [MessageKey(1, 7), MessageKey(2, 5), MessageKey(3, 1)]
        assert await repo.claim_next("w9", at(10), LEASE) is None
        stored = await repo.get(MessageKey(1, 7))
        assert stored is not None and stored.status is MessageStatus.PROCESSING

    async def test_nothing_to_claim_in_an_empty_store(self, stores: Stores) -> None:
        assert await stores.messages.claim_next("w1", T0, LEASE) is None

    async def test_a_retry_is_claimed_only_when_due(self, stores: Stores) -> None:
        repo = stores.messages
        msg = await in_retry(repo, 1, 10, T0)
        assert msg.retry_after == at(30)
        assert await repo.claim_next("w2", at(29), LEASE) is None
        got = await repo.claim_next("w2", at(30), LEASE)
        assert got is not None and got.key == msg.key and got.retry_count == 1

    async def test_pending_is_due_whatever_retry_after_is_left(self, stores: Stores) -> None:
        """An operator who sets a message back to pending by hand may leave retry_after."""
        repo = stores.messages
        msg = await claimed(repo, 1, 10, T0)
        msg.release("w1", at(1))
        msg.retry_after = at(3600)
        assert msg.status is MessageStatus.PENDING
        assert await repo.save(msg, "w1")
        got = await repo.claim_next("w2", at(2), LEASE)
        assert got is not None and got.key == msg.key and got.lease_owner == "w2"

    async def test_a_retry_without_retry_after_is_due(self, stores: Stores) -> None:
        repo = stores.messages
        msg = await in_retry(repo, 1, 10, T0)
        again = await repo.claim_next("w1", at(30), LEASE)
        assert again is not None
        again.release("w1", at(31))
        again.retry_after = None
        assert (again.status, again.retry_count) == (MessageStatus.RETRY, 1)
        assert await repo.save(again, "w1")
        got = await repo.claim_next("w2", at(32), LEASE)
        assert got is not None and got.key == msg.key and got.retry_count == 1

    async def test_excluded_channels_are_not_claimed(self, stores: Stores) -> None:
        repo = stores.messages
        await repo.add(post(1, 1), at(1))
        await repo.add(post(2, 1), at(2))
        got = await repo.claim_next("w1", at(5), LEASE, exclude_channels={1})
        assert got is not None and got.channel_id == 2
        assert await repo.claim_next("w1", at(5), LEASE, exclude_channels=[1]) is None

    async def test_done_and_error_messages_are_not_claimed(self, stores: Stores) -> None:
        await in_state(stores.messages, 1, 1, T0, None)
        await in_state(stores.messages, 1, 2, at(1), REJECTED)
        assert await stores.messages.claim_next("w1", at(999), LEASE) is None

    # -- saving and leases ---------------------------------------------------

    async def test_save_writes_the_transition(self, stores: Stores) -> None:
        repo = stores.messages
        msg = await claimed(repo, 1, 10, T0)
        msg.succeed("w1", {"title": "Заголовок", "tags": ["a"]}, at(1), from_cache=True)
        assert await repo.save(msg, "w1")
        got = await repo.get(msg.key)
        assert got is not None
        assert got.status is MessageStatus.DONE and got.result == {
            "title": "Заголовок",
            "tags": ["a"],
        }
        assert got.from_cache and got.done_at == at(1) and got.lease_owner is None

    async def test_save_writes_what_parsing_cost(self, stores: Stores) -> None:
        repo = stores.messages
        await repo.add(post(1, 10, "first"), T0)
        await repo.add(post(1, 10, "edited"), at(1))
        msg = await repo.claim_next("w1", at(2), LEASE)
        assert msg is not None
        msg.spend("w1", LLMUsage(calls=1, seconds=0.25))
        msg.schedule_retry("w1", CONCURRENCY, POLICY, at(3))
        assert await repo.save(msg, "w1")
        msg = await repo.claim_next("w1", at(40), LEASE)
        assert msg is not None and msg.usage == LLMUsage(calls=1, seconds=0.25)
        msg.spend("w1", LLMUsage(1200, 150, 2, 3.5))
        msg.succeed(
            "w1",
            {"t": 1},
            at(41),
            model="glm-4.6",
            parser_fingerprint="9f86d081",
            profile="jobs",
            spec_hash="3c59dc048e88",
        )
        assert await repo.save(msg, "w1")
        got = await repo.get(msg.key)
        assert got is not None
        assert got.usage == LLMUsage(1200, 150, 3, 3.75)
        assert (got.model, got.parser_fingerprint) == ("glm-4.6", "9f86d081")
        assert (got.profile, got.spec_hash) == ("jobs", "3c59dc048e88")
        assert got.edited_at == at(1) and got.done_at == at(41)

    async def test_save_writes_a_retry_with_its_error(self, stores: Stores) -> None:
        msg = await in_retry(stores.messages, 1, 10, T0)
        got = await stores.messages.get(msg.key)
        assert got is not None
        assert (got.status, got.retry_count, got.retry_after) == (MessageStatus.RETRY, 1, at(30))
        assert got.last_error is not None
        assert (got.last_error.kind, got.last_error.code) == (CONCURRENCY.kind, "1302")
        assert got.last_error.at == T0 and got.lease_until is None

    async def test_save_is_refused_after_the_lease_was_lost(self, stores: Stores) -> None:
        repo = stores.messages
        mine = await claimed(repo, 1, 10, T0, owner="w1")
        assert await repo.recover_expired(T0 + LEASE) == 1
        theirs = await repo.claim_next("w2", T0 + LEASE, LEASE)
        assert theirs is not None and theirs.key == mine.key
        mine.succeed("w1", {"late": True}, T0 + LEASE)
        assert not await repo.save(mine, "w1")
        theirs.succeed("w2", {"on time": True}, T0 + LEASE)
        assert await repo.save(theirs, "w2")
        got = await repo.get(mine.key)
        assert got is not None and got.result == {"on time": True}

    async def test_save_is_refused_when_not_processing(self, stores: Stores) -> None:
        msg = await in_state(stores.messages, 1, 10, T0, None)
        assert not await stores.messages.save(attrs.evolve(msg, result={"title": "y"}), "w1")
        got = await stores.messages.get(msg.key)
        assert got is not None and got.result == {"title": "x"}

    async def test_a_save_repeated_after_its_reply_was_lost_finds_itself_saved(
        self, stores: Stores
    ) -> None:
        """An outage can drop the reply to a save the server applied; the retry must not
        report the outcome lost (the message would be counted as nobody's)."""
        repo = stores.messages
        msg = await claimed(repo, 1, 10, T0)
        msg.spend("w1", LLMUsage(900, 80, 1, 1.234567))
        msg.succeed("w1", {"title": "Заголовок", "n": [1, 2.5]}, at(1.000123), model="glm-4.6")
        assert await repo.save(msg, "w1")
        assert await repo.save(msg, "w1")  # the retry
        failed = await claimed(repo, 1, 11, at(2))
        failed.schedule_retry("w1", CONCURRENCY, POLICY, at(3))
        assert await repo.save(failed, "w1")
        assert await repo.save(failed, "w1")
        got = await repo.get(msg.key)
        assert got is not None and got.status is MessageStatus.DONE

    async def test_lease_renewal(self, stores: Stores) -> None:
        repo = stores.messages
        msg = await claimed(repo, 1, 10, T0)
        assert await repo.renew_lease(msg.key, "w1", at(500))
        assert not await repo.renew_lease(msg.key, "w2", at(900))
        assert not await repo.renew_lease(MessageKey(9, 9), "w1", at(900))
        assert await repo.recover_expired(T0 + LEASE) == 0
        got = await repo.get(msg.key)
        assert got is not None and got.lease_until == at(500)
        assert await repo.recover_expired(at(500)) == 1

    async def test_recover_expired_makes_messages_claimable(self, stores: Stores) -> None:
        repo = stores.messages
        fresh = await claimed(repo, 1, 1, T0)
        retried = await in_retry(repo, 1, 2, at(1))
        again = await repo.claim_next("w1", at(40), LEASE)
        assert again is not None and again.key == retried.key
        assert await repo.recover_expired(at(40)) == 0  # leases still valid
        assert await repo.recover_expired(at(40) + LEASE) == 2
        got_fresh = await repo.get(fresh.key)
        got_retried = await repo.get(retried.key)
        assert got_fresh is not None and got_retried is not None
        assert got_fresh.status is MessageStatus.PENDING and got_fresh.lease_owner is None
        assert got_retried.status is MessageStatus.RETRY and got_retried.retry_count == 1
        assert got_retried.retry_after == at(40) + LEASE and got_retried.lease_until is None
        assert await repo.claim_next("w3", at(40) + LEASE, LEASE) is not None

    # -- requeue and reset ---------------------------------------------------

    async def test_requeue_by_status_clears_retry_count(self, stores: Stores) -> None:
        repo = stores.messages
        await in_retry(repo, 1, 1, T0)
        await in_state(repo, 1, 2, at(1), REJECTED)
        await in_state(repo, 1, 3, at(2), None)
        assert await repo.requeue(at(10), statuses=[MessageStatus.RETRY]) == 1
        got = await repo.get(MessageKey(1, 1))
        assert got is not None
        assert (got.status, got.retry_count, got.retry_after) == (MessageStatus.PENDING, 0, None)
        assert got.last_error is None and got.updated_at == at(10)
        assert await repo.requeue(at(11), statuses=[MessageStatus.ERROR, MessageStatus.DONE]) == 2
        done = await repo.get(MessageKey(1, 3))
        assert done is not None and done.status is MessageStatus.PENDING and done.result is None
        assert await repo.requeue(at(12)) == 0

    async def test_requeue_by_failure_kind_never_touches_processing(self, stores: Stores) -> None:
        repo = stores.messages
        await in_state(repo, 1, 1, T0, QUOTA)
        await in_state(repo, 1, 2, at(1), REJECTED)
        # a message that failed on quota, was requeued by status and is now processing
        msg = await in_state(repo, 1, 3, at(2), QUOTA)
        assert await repo.reset(msg.key, at(3))
        await repo.requeue(at(3), statuses=[MessageStatus.PENDING])
        busy = await repo.claim_next("w1", at(4), LEASE)
        assert busy is not None
        assert await repo.requeue(at(5), kinds=[FailureKind.QUOTA_EXHAUSTED]) == 1
        counts = (await repo.stats()).by_status
        assert counts[MessageStatus.PENDING] == 1 and counts[MessageStatus.ERROR] == 1
        assert counts[MessageStatus.PROCESSING] == 1
        assert await repo.requeue(at(6), statuses=[MessageStatus.PROCESSING]) == 0

    async def test_requeue_stale_results_by_the_profile_of_their_channel(
        self, stores: Stores
    ) -> None:
        repo = stores.messages
        made_under = {
            (1, 1): "A",  # channel 1 is parsed by the default profile (A)
            (1, 2): "old",
            (1, 3): None,  # parsed before fingerprints were recorded
            (2, 1): "J",  # channel 2 by the profile J
            (2, 2): "A",
            (3, 1): "A",
        }
        for n, ((channel, message), fingerprint) in enumerate(made_under.items()):
            msg = await claimed(repo, channel, message, at(n))
            msg.succeed("w1", {"t": n}, at(n), parser_fingerprint=fingerprint)
            assert await repo.save(msg, "w1")
        await in_state(repo, 1, 4, at(10), REJECTED)  # no result: never stale
        busy = await claimed(repo, 2, 3, at(11))  # being processed: never requeued
        assert busy.parser_fingerprint is None
        stale = StaleResults("A", {2: "J"})
        assert await repo.requeue(at(20), stale=stale) == 3
        pending = [m.key async for m in repo.iter_matching(MessageFilter(MessageStatus.PENDING))]
        assert pending == [MessageKey(1, 2), MessageKey(1, 3), MessageKey(2, 2)]
        assert await repo.requeue(at(21), stale=stale) == 0
        counts = (await repo.stats()).by_status
        assert counts[MessageStatus.ERROR] == 1 and counts[MessageStatus.PROCESSING] == 1

    async def test_requeue_within_channels_and_post_times(self, stores: Stores) -> None:
        repo = stores.messages
        for channel in (1, 2):
            for message, posted in ((1, at(-100)), (2, at(100)), (3, None)):
                await repo.add(NewPost(channel, message, f"post {message}", posted), T0)
                msg = await repo.claim_next("w1", T0, LEASE)
                assert msg is not None
                msg.succeed("w1", {"t": 1}, T0, parser_fingerprint="old")
                assert await repo.save(msg, "w1")
        where = MessageFilter(
            status=MessageStatus.ERROR, channels={2}, posted_from=at(0)
        )  # its status is ignored
        assert await repo.requeue(at(1), statuses=[MessageStatus.DONE], where=where) == 1
        got = await repo.get(MessageKey(2, 2))
        assert got is not None and got.status is MessageStatus.PENDING
        stale = StaleResults("new")
        assert await repo.requeue(at(2), stale=stale, where=MessageFilter(channels={1})) == 3
        counts = (await repo.stats()).by_status
        assert counts[MessageStatus.PENDING] == 4 and counts[MessageStatus.DONE] == 2

    async def test_reset_one_message_by_hand(self, stores: Stores) -> None:
        repo = stores.messages
        msg = await in_retry(repo, 1, 1, T0, attempts=3)
        assert msg.retry_count == 3
        assert await repo.reset(msg.key, at(1))
        got = await repo.get(msg.key)
        assert got is not None and got.status is MessageStatus.PENDING and got.retry_count == 0
        assert not await repo.reset(MessageKey(7, 7), at(1))
        busy = await repo.claim_next("w1", at(2), LEASE)
        assert busy is not None and not await repo.reset(busy.key, at(3))

    # -- queries -------------------------------------------------------------

    async def test_stats(self, stores: Stores) -> None:
        repo = stores.messages
        await in_retry(repo, 1, 1, T0, attempts=1)
        await in_retry(repo, 1, 2, at(1), attempts=3)
        await in_retry(repo, 1, 3, at(2), attempts=3)
        await in_state(repo, 1, 4, at(3), REJECTED)
        await in_state(repo, 1, 5, at(4), QUOTA)
        await in_state(repo, 1, 6, at(5), QUOTA)
        done = await claimed(repo, 1, 7, at(6))
        done.succeed("w1", {}, at(6), from_cache=True)
        assert await repo.save(done, "w1")
        await in_state(repo, 1, 8, at(7), None)
        await repo.add(post(2, 1), at(8))
        stats = await repo.stats()
        assert stats.by_status == {
            MessageStatus.PENDING: 1,
            MessageStatus.PROCESSING: 0,
            MessageStatus.RETRY: 3,
            MessageStatus.DONE: 2,
            MessageStatus.ERROR: 3,
        }
        assert stats.total == 9
        assert stats.retry_histogram == {1: 1, 3: 2}
        assert stats.errors_by_kind == {"quota_exhausted": 2, "rejected": 1}
        assert stats.next_retry_at == at(30)
        assert stats.from_cache == 1
        assert await repo.next_retry_at() == at(30)
        assert stats.oldest_pending_since == at(8)  # the one pending, stored at 8 s
        assert stats.oldest_due_seconds(at(38)) == 30  # pending 30 s; retry due 8 s
        assert stats.oldest_due_seconds(at(20)) == 12  # no retry due yet

    async def test_the_oldest_pending_is_since_it_became_pending(self, stores: Stores) -> None:
        repo = stores.messages
        await in_state(repo, 1, 3, T0, REJECTED)  # received first, pending again at 60 s
        await repo.add(post(1, 1), at(1))
        await repo.add(post(1, 2), at(5))
        assert await repo.requeue(at(60), statuses=[MessageStatus.ERROR]) == 1
        assert (await repo.stats()).oldest_pending_since == at(1)
        for expected, since in [(MessageKey(1, 3), at(1)), (MessageKey(1, 1), at(5))]:
            claimed_now = await repo.claim_next("w1", at(61), LEASE)  # oldest received first
            assert claimed_now is not None and claimed_now.key == expected
            assert (await repo.stats()).oldest_pending_since == since

    async def test_empty_stats(self, stores: Stores) -> None:
        stats = await stores.messages.stats()
        assert stats.total == 0 and stats.retry_histogram == {} and stats.next_retry_at is None
        assert stats.oldest_pending_since is None and stats.oldest_due_seconds(T0) == 0
        assert set(stats.by_status) == set(MessageStatus)
        assert await stores.messages.next_retry_at() is None

    async def test_highest_message_id(self, stores: Stores) -> None:
        repo = stores.messages
        assert await repo.highest_message_id(1) is None
        for channel, message in [(1, 5), (1, 120), (1, 17), (2, 999)]:
            await repo.add(post(channel, message), T0)
        assert await repo.highest_message_id(1) == 120
        assert await repo.highest_message_id(2) == 999

    # -- export queries ------------------------------------------------------

    async def _export_fixture(self, repo: MessageRepository) -> None:
        """Channels 3, 1 and 2; posted at hours 1..6 (one without a date); four done, one
        in error, two pending."""
        processed = [(3, 5, 1), (1, 2, 3), (2, 7, 4), (1, 4, 6), (2, 8, None)]
        for i, (channel, message, hour) in enumerate(processed):
            posted = None if hour is None else T0 + timedelta(hours=hour)
            await repo.add(NewPost(channel, message, f"post {i}", posted_at=posted), at(i))
        for _ in processed:
            got = await repo.claim_next("w1", at(20), LEASE)
            assert got is not None
            if got.key == MessageKey(2, 7):
                got.fail("w1", REJECTED, at(21))
            else:
                got.succeed("w1", {"k": [got.channel_id, got.message_id]}, at(21))
            assert await repo.save(got, "w1")
        for channel, message, hour in [(1, 9, 2), (3, 1, 5)]:
            posted = T0 + timedelta(hours=hour)
            await repo.add(NewPost(channel, message, f"later {message}", posted_at=posted), at(30))

    async def test_iter_matching_streams_what_the_filter_selects_in_key_order(
        self, stores: Stores
    ) -> None:
        repo = stores.messages
        await self._export_fixture(repo)

        async def keys(where: MessageFilter, batch: int = 2) -> list[tuple[int, int]]:
            return [(m.channel_id, m.message_id) async for m in repo.iter_matching(where, batch)]

        everything = [(1, 2), (1, 4), (1, 9), (2, 7), (2, 8), (3, 1), (3, 5)]
        assert await keys(MessageFilter()) == everything
        assert await keys(MessageFilter(), batch=100) == everything
        done = MessageFilter(MessageStatus.DONE)
        assert await keys(done) == [(1, 2), (1, 4), (2, 8), (3, 5)]
        assert await keys(MessageFilter(MessageStatus.ERROR)) == [(2, 7)]
        assert await keys(MessageFilter(channels={1, 2})) == everything[:5]
        assert await keys(MessageFilter(MessageStatus.DONE, channels={3})) == [(3, 5)]
        hours = MessageFilter(
            posted_from=T0 + timedelta(hours=2), posted_until=T0 + timedelta(hours=5)
        )
        assert await keys(hours) == [(1, 2), (1, 9), (2, 7)]  # posted at 3, 2 and 4
        assert await keys(MessageFilter(posted_from=T0 + timedelta(hours=6))) == [(1, 4)]
        assert await keys(MessageFilter(MessageStatus.RETRY)) == []
        first, second = [m async for m in repo.iter_matching(MessageFilter(channels={3}))]
        assert (first.text, first.status, first.result) == ("later 1", MessageStatus.PENDING, None)
        assert first.posted_at == T0 + timedelta(hours=5)
        assert (second.text, second.result, second.done_at) == ("post 0", {"k": [3, 5]}, at(21))

    async def test_iter_parsed_since_follows_the_order_of_parsing(self, stores: Stores) -> None:
        repo = stores.messages
        for i in range(6):
            await repo.add(post(i % 2 + 1, 10 + i), at(i))
        # parsed in this order; two at the same instant, ordered by key
        parsed_at = {10: at(50), 11: at(40), 12: at(45), 13: at(45), 14: at(60), 15: at(30)}
        for _ in range(6):
            got = await repo.claim_next("w1", at(20), LEASE)
            assert got is not None
            got.succeed("w1", {"n": got.message_id}, parsed_at[got.message_id])
            assert await repo.save(got, "w1")
        await repo.add(post(1, 99), at(70))  # pending: never listed

        async def ids(since: datetime, where: MessageFilter | None = None) -> list[int]:
            return [m.message_id async for m in repo.iter_parsed_since(since, where, 2)]

        assert await ids(T0) == [15, 11, 12, 13, 10, 14]
        assert await ids(at(45)) == [12, 13, 10, 14]
        assert await ids(at(61)) == []
        channel_1 = MessageFilter(MessageStatus.ERROR, channels={1})  # status is ignored
        assert await ids(at(41), channel_1) == [12, 10, 14]
        found = [m async for m in repo.iter_parsed_since(at(60))]
        assert [(m.message_id, m.done_at, m.result) for m in found] == [(14, at(60), {"n": 14})]

    # -- parse cache ---------------------------------------------------------

    async def test_parse_cache(self, stores: Stores) -> None:
        assert await stores.cache.get("abc") is None
        await stores.cache.put("abc", {"title": "t", "n": [1, 2]}, T0)
        assert await stores.cache.get("abc") == {"title": "t", "n": [1, 2]}
        await stores.cache.put("abc", {"title": "u"}, at(1))
        assert await stores.cache.get("abc") == {"title": "u"}

    # -- channels ------------------------------------------------------------

    async def test_channel_availability(self, stores: Stores) -> None:
        reg = stores.channels
        assert await reg.unavailable() == frozenset()
        assert await reg.set_availability(1, True, T0, title="News")
        assert not await reg.set_availability(1, True, at(1))
        assert await reg.set_availability(2, False, at(2), reason="private")
        assert await reg.unavailable() == {2}
        assert await reg.set_availability(1, False, at(3), reason="banned")
        assert await reg.unavailable() == {1, 2}
        assert await reg.set_availability(2, True, at(4))
        infos = await reg.channels()
        assert [(c.channel_id, c.available, c.title, c.reason, c.checked_at) for c in infos] == [
            (1, False, "News", "banned", at(3)),
            (2, True, None, None, at(4)),
        ]

    async def test_a_channels_username_is_kept_until_told_otherwise(self, stores: Stores) -> None:
        reg = stores.channels
        await reg.set_availability(-1001, True, T0, title="Jobs", username="python_jobs")
        await reg.set_availability(-1002, True, T0, title="Private")
        await reg.set_availability(-1001, False, at(1), reason="banned")
        names = {c.channel_id: (c.title, c.username) for c in await reg.channels()}
        assert names == {-1001: ("Jobs", "python_jobs"), -1002: ("Private", None)}
        await reg.set_availability(-1001, True, at(2), username="py_jobs")
        assert [c.username for c in await reg.channels()] == [None, "py_jobs"]

    async def test_channel_reads_keep_the_mode_the_time_and_a_rising_cursor(
        self, stores: Stores
    ) -> None:
        reg = stores.channels
        assert await reg.channel(1) is None
        await reg.set_availability(1, True, T0, title="News")
        await reg.record_read(1, ChannelMode.LIVE, at(10), read_up_to=120)
        await reg.record_read(1, ChannelMode.LIVE, at(20), read_up_to=90)  # never down
        got = await reg.channel(1)
        assert got is not None
        assert (got.mode, got.read_up_to, got.last_read_at) == (ChannelMode.LIVE, 120, at(20))
        assert (got.available, got.title, got.checked_at) == (True, "News", T0)
        await reg.record_read(1, ChannelMode.POLLING, at(30))  # read, nothing new
        assert await reg.set_availability(1, False, at(40), reason="private")
        got = await reg.channel(1)
        assert got is not None and (got.mode, got.read_up_to) == (ChannelMode.POLLING, 120)
        assert (got.available, got.last_read_at, got.reason) == (False, at(30), "private")
        await reg.record_read(2, ChannelMode.POLLING, at(50), read_up_to=7)  # not seen before
        [one, two] = await reg.channels()
        assert one == got
        assert (two.channel_id, two.available, two.mode, two.read_up_to) == (
            2,
            True,
            ChannelMode.POLLING,
            7,
        )
        assert two.last_read_at == at(50)

    # -- service state -------------------------------------------------------

    async def test_quota_gate_round_trip(self, stores: Stores) -> None:
        state = stores.state
        assert (await state.quota_gate()).is_open
        closed = QuotaGate().close(QUOTA, T0, timedelta(minutes=5))
        await state.set_quota_gate(closed)
        got = await state.quota_gate()
        assert got == closed and got.state is GateState.QUOTA_EXHAUSTED
        assert got.probe_at == at(300) and got.since == T0 and got.code == "insufficient_quota"
        await state.set_quota_gate(got.reopen())
        assert await state.quota_gate() == QuotaGate()

    async def test_notification_slot_throttles_and_counts_suppressed(self, stores: Stores) -> None:
        state = stores.state
        kind = NotificationKind.RATE_LIMITED

        async def take(kind: NotificationKind, seconds: float) -> SlotTaken:
            now = at(seconds)
            return await state.take_notification_slot(kind, now, THROTTLE.decider(kind, now))

        assert await take(kind, 0) == SlotTaken(True, 0)
        for s in (10, 100, 299):
            assert await take(kind, s) == SlotTaken(False, 0)
        # another kind has its own slot
        assert await take(NotificationKind.QUOTA_EXHAUSTED, 10) == SlotTaken(True, 0)
        assert await take(kind, 300) == SlotTaken(True, 3)
        assert await take(kind, 301) == SlotTaken(False, 0)
        assert await take(kind, 700) == SlotTaken(True, 1)

    async def test_notification_slot_follows_the_decision_it_is_given(self, stores: Stores) -> None:
        """The rule is the throttle's, passed in: the store keeps no interval of its own."""
        state = stores.state
        kind = NotificationKind.MISCONFIGURED  # 15 minutes by default
        every_10s = NotificationThrottle(intervals={kind: timedelta(seconds=10)})
        assert (await state.take_notification_slot(kind, T0, every_10s.decider(kind, T0))).taken
        assert not (
            await state.take_notification_slot(kind, at(9), every_10s.decider(kind, at(9)))
        ).taken
        taken = await state.take_notification_slot(kind, at(10), every_10s.decider(kind, at(10)))
        assert taken == SlotTaken(True, 1)

        def never(slot: ThrottleSlot) -> ThrottleDecision:
            return ThrottleDecision(False, 0, ThrottleSlot(slot.last_sent_at, slot.suppressed + 1))

        for s in (3600, 3601):
            assert await state.take_notification_slot(kind, at(s), never) == SlotTaken(False, 0)
        taken = await state.take_notification_slot(
            kind, at(3602), every_10s.decider(kind, at(3602))
        )
        assert taken == SlotTaken(True, 2)

    async def test_a_cleared_notification_slot_sends_at_once(self, stores: Stores) -> None:
        """After the balance comes back, the next exhaustion is told at once (SPEC.md)."""
        state = stores.state
        kind = NotificationKind.QUOTA_EXHAUSTED

        async def take(seconds: float) -> SlotTaken:
            now = at(seconds)
            return await state.take_notification_slot(kind, now, THROTTLE.decider(kind, now))

        await state.clear_notification_slot(kind)  # nothing to clear: no effect
        assert await take(0) == SlotTaken(True, 0)
        assert await take(10) == SlotTaken(False, 0)
        rate = NotificationKind.RATE_LIMITED
        assert await state.take_notification_slot(rate, at(10), THROTTLE.decider(rate, at(10)))
        await state.clear_notification_slot(kind)
        assert await take(20) == SlotTaken(True, 0)
        assert await take(30) == SlotTaken(False, 0)
        assert await take(20 + 900) == SlotTaken(True, 1)
        # another kind's slot is untouched
        assert not (
            await state.take_notification_slot(rate, at(20), THROTTLE.decider(rate, at(20)))
        ).taken

    async def test_a_misconfigured_gate_keeps_the_settings_it_closed_with(
        self, stores: Stores
    ) -> None:
        bad_key = LLMFailure(FailureKind.MISCONFIGURED, "1002", "Authorization Token invalid")
        closed = QuotaGate().close(bad_key, T0, timedelta(minutes=5), settings="0123abcd")
        await stores.state.set_quota_gate(closed)
        got = await stores.state.quota_gate()
        assert got == closed and got.closed_with == "0123abcd"
        assert got.state is GateState.MISCONFIGURED and got.probe_at is None

    async def test_failures_of_one_kind_in_a_row_are_counted(self, stores: Stores) -> None:
        repo = stores.messages
        internal = LLMFailure(FailureKind.INTERNAL, "RecursionError", "too deep")
        msg = await claimed(repo, 1, 10, T0)
        msg.apply_failure("w1", internal, POLICY, T0)
        assert await repo.save(msg, "w1")
        again = await repo.claim_next("w2", at(30), LEASE)
        assert again is not None and again.last_error is not None
        assert (again.last_error.kind, again.last_error.repeats) == (FailureKind.INTERNAL, 1)
        again.apply_failure("w2", internal, POLICY, at(30), internal_limit=2)
        assert await repo.save(again, "w2")
        got = await repo.get(msg.key)
        assert got is not None and got.status is MessageStatus.ERROR
        assert got.last_error is not None and got.last_error.repeats == 2
        assert (await repo.stats()).errors_by_kind == {"internal": 1}

    async def test_the_usage_ledger_sums_by_hour(self, stores: Stores) -> None:
        state = stores.state
        assert await state.usage_since() == NO_USAGE
        await state.add_usage(T0, LLMUsage(100, 10, 1, 0.5))  # 18:42
        await state.add_usage(at(60), LLMUsage(200, 20, 2, 1.0))  # 18:43, the same hour
        await state.add_usage(at(3600), LLMUsage(calls=1))  # 19:42
        await state.add_usage(T0 - timedelta(days=2), LLMUsage(5000, 500, 3, 9.0))
        assert await state.usage_since() == LLMUsage(5300, 530, 7, 10.5)
        # from the start of the hour *since* falls in
        assert await state.usage_since(at(1000)) == LLMUsage(300, 30, 4, 1.5)
        assert await state.usage_since(at(3600)) == LLMUsage(calls=1)
        assert await state.usage_since(at(7200)) == NO_USAGE

    async def test_concurrent_usage_adds_all_count(self, stores: Stores) -> None:
        """Many calls end at once in one process (and in several): none may be lost."""
        state = stores.state
        await asyncio.gather(*(state.add_usage(at(i), LLMUsage(10, 1, 1)) for i in range(30)))
        assert await state.usage_since(T0) == LLMUsage(300, 30, 30)

    # -- the shared concurrency limiter ----------------------------------------------

    async def test_learned_limit_is_shared_with_all_it_learned(self, stores: Stores) -> None:
        state = stores.state
        assert await state.learned_limit() is None
        seen: list[tuple[LearnedLimit | None, int]] = []

        def learn(value: LearnedLimit) -> Learn:
            def apply(stored: LearnedLimit | None, others: int) -> LearnedLimit:
                seen.append((stored, others))
                return value

            return apply

        first = LearnedLimit(
            6.5, 8, 0.75, weighed_at=at(1), at_ceiling=3, restore=9, restore_until=at(600)
        )
        view = await state.learn_limit("a", learn(first), at(1))
        assert view == PermitView(first, frozenset(), 0)
        assert await state.learned_limit() == 6.5
        await state.take_permits("b", 2, ConcurrencyLimit(limit=4), at(2), PERMIT_LEASE)
        second = LearnedLimit(3.0)
        view = await state.learn_limit("a", learn(second), at(3))
        assert view == PermitView(second, frozenset(), 2)
        assert seen == [(None, 0), (first, 2)]  # the stored one and the slots of the others
        assert await state.learned_limit() == 3.0

    async def test_permits_below_the_learned_limit_go_to_one_holder_each(
        self, stores: Stores
    ) -> None:
        state = stores.state
        start = ConcurrencyLimit(limit=3, max_limit=8)  # nothing learned yet: 3 permits
        view = await state.take_permits("a", 2, start, T0, PERMIT_LEASE)
        assert (view.mine, view.held) == ({0, 1}, 2)
        view = await state.take_permits("b", 5, start, at(1), PERMIT_LEASE)
        assert (view.mine, view.held) == ({2}, 3)  # only what is left below the limit
        view = await state.take_permits("c", 1, start, at(2), PERMIT_LEASE)
        assert (view.mine, view.held) == (frozenset(), 3)
        # The learned limit, not the caller's start, sizes the permits.
        await state.learn_limit("a", lambda stored, others: LearnedLimit(5.0), at(3))
        view = await state.take_permits("c", 5, start, at(4), PERMIT_LEASE)
        assert (view.mine, view.held) == ({3, 4}, 5)

    async def test_permits_expire_with_their_holder_unless_renewed(self, stores: Stores) -> None:
        state = stores.state
        start = ConcurrencyLimit(limit=2, max_limit=8)
        await state.take_permits("a", 1, start, T0, PERMIT_LEASE)  # slot 0 until 10 s
        await state.take_permits("b", 1, start, T0, PERMIT_LEASE)  # slot 1 until 10 s
        view = await state.take_permits("a", 0, start, at(8), PERMIT_LEASE)  # renewed: 18 s
        assert (view.mine, view.held) == ({0}, 2)
        view = await state.take_permits("c", 2, start, at(9), PERMIT_LEASE)
        assert view.mine == frozenset()
        view = await state.take_permits("c", 2, start, at(10), PERMIT_LEASE)  # b's ran out
        assert (view.mine, view.held) == ({1}, 2)
        view = await state.take_permits("b", 0, start, at(11), PERMIT_LEASE)
        assert (view.mine, view.held) == (frozenset(), 2)  # b lost it: no renewal after expiry
        view = await state.take_permits("a", 0, start, at(18), PERMIT_LEASE)
        assert view.mine == frozenset()  # too late for a as well

    async def test_permits_given_back_are_free_again(self, stores: Stores) -> None:
        state = stores.state
        start = ConcurrencyLimit(limit=2, max_limit=8)
        await state.take_permits("a", 2, start, T0, PERMIT_LEASE)
        view = await state.return_permits("b", [0, 1], at(1))  # not b's: nothing happens
        assert (view.mine, view.held) == (frozenset(), 2)
        view = await state.return_permits("a", [1], at(1))
        assert (view.mine, view.held) == ({0}, 1)
        view = await state.take_permits("b", 2, start, at(2), PERMIT_LEASE)
        assert (view.mine, view.held) == ({1}, 2)

    async def test_racing_takers_never_share_a_permit(self, stores: Stores) -> None:
        state = stores.state
        start = ConcurrencyLimit(limit=5, max_limit=8)
        views = await asyncio.gather(
            *(state.take_permits(f"w{i}", 2, start, T0, PERMIT_LEASE) for i in range(6))
        )
        granted = [n for view in views for n in view.mine]
        assert len(granted) == len(set(granted))  # none twice
        # A racer that loses a slot may come away short (it asks again later), but
        # together they never hold more than the limit, and what is left is still free.
        rest = await state.take_permits("late", 5, start, T0, PERMIT_LEASE)
        assert sorted([*granted, *rest.mine]) == [0, 1, 2, 3, 4]

    async def test_racing_takers_of_expired_permits_never_share_one(self, stores: Stores) -> None:
        """Workers that find the same expired holdings at once: each slot goes to one of
        them, and the store agrees with what each was told (on FerretDB a delete filtered
        on the old holding could remove the new one: a takeover mark decides)."""
        state = stores.state
        start = ConcurrencyLimit(limit=4, min_limit=4, max_limit=4)
        for round_ in range(8):
            t = at(round_ * 100)
            await state.take_permits(f"dead{round_}", 4, start, t, PERMIT_LEASE)
            later = t + PERMIT_LEASE + timedelta(seconds=1)  # the dead worker's ran out
            views = await asyncio.gather(
                *(
                    state.take_permits(f"r{round_}w{i}", 4, start, later, PERMIT_LEASE)
                    for i in range(4)
                )
            )
            granted = [n for view in views for n in view.mine]
            assert len(granted) == len(set(granted)), (round_, views)  # none twice
            for i, view in enumerate(views):  # the store says the same to each
                again = await state.take_permits(f"r{round_}w{i}", 0, start, later, PERMIT_LEASE)
                assert again.mine == view.mine, (round_, i, view, again)
            for i, view in enumerate(views):
                await state.return_permits(f"r{round_}w{i}", sorted(view.mine), later)

    async def test_named_leases(self, stores: Stores) -> None:
        state = stores.state
        ttl = timedelta(seconds=60)
        assert await state.acquire_lease("listener", "a", T0, ttl)
        assert not await state.acquire_lease("listener", "b", at(30), ttl)
        assert await state.acquire_lease("other", "b", at(30), ttl)
        assert await state.acquire_lease("listener", "a", at(50), ttl)  # renewal
        assert not await state.acquire_lease("listener", "b", at(100), ttl)
        assert await state.acquire_lease("listener", "b", at(110), ttl)  # expired
        await state.release_lease("listener", "a")  # not the holder: no effect
        assert not await state.acquire_lease("listener", "a", at(120), ttl)
        await state.release_lease("listener", "b")
        assert await state.acquire_lease("listener", "a", at(121), ttl)
