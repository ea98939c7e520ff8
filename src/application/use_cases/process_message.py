"""Parse one claimed message and move it on: DONE, or RETRY/ERROR as its failure says.

Whatever goes wrong while a message is held (outside storage outages, which StorageHealth
rides out, and cancellation at shutdown, which releases it) ends in a recorded status: an
exception is an internal error, retried on the backoff and an ERROR after
``internal_error_limit`` in a row, so that no failure costs a paid call per lease forever."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

import attrs

from channel_parser.application import notifications
from channel_parser.application.channel_directory import ChannelDirectory
from channel_parser.application.config import EngineConfig
from channel_parser.application.errors import StorageError
from channel_parser.application.fingerprint import parse_fingerprint
from channel_parser.application.permit_gate import GateClosed
from channel_parser.application.ports.clock import Clock
from channel_parser.application.ports.llm import (
    LLMParser,
    ParseOutcome,
    ParseRequest,
    ParseSuccess,
    PostContext,
)
from channel_parser.application.ports.metrics import Metrics
from channel_parser.application.ports.storage import MessageRepository, ParseCache, ServiceState
from channel_parser.application.storage_health import StorageHealth
from channel_parser.application.usage import UsageRecorder
from channel_parser.application.use_cases.notify_admins import NotifyAdmins
from channel_parser.application.use_cases.queue_results import QueueResults
from channel_parser.domain.failures import FailureKind, GateAction, LLMFailure, NotificationKind
from channel_parser.domain.gate import GateState
from channel_parser.domain.message import IncomingMessage, RetryScheduled
from channel_parser.domain.status import MessageStatus
from channel_parser.domain.usage import LLMUsage

log = logging.getLogger(__name__)


class CallGate(Protocol):
    """Held exactly while the provider has the call: the concurrency permit."""

    async def enter(self) -> None: ...

    async def leave(self, outcome: ParseOutcome | None) -> None:
        """*outcome* None: the call ended without an answer (cancelled, or a bug)."""
        ...


@attrs.frozen
class Processed:
    status: MessageStatus
    failure: LLMFailure | None = None
    retry: RetryScheduled | None = None
    from_cache: bool = False
    saved: bool = True  # False: the lease was lost meanwhile and nothing was written


class ProcessMessage:
    def __init__(
        self,
        messages: MessageRepository,
        cache: ParseCache,
        parser: LLMParser,
        state: ServiceState,
        notify: NotifyAdmins,
        clock: Clock,
        metrics: Metrics,
        health: StorageHealth,
        config: EngineConfig,
        jitter_source: Callable[[], float] = random.random,
        usage: UsageRecorder | None = None,
        directory: ChannelDirectory | None = None,
        deliver: QueueResults | None = None,
    ) -> None:
        self._messages = messages
        self._cache = cache
        self._parser = parser
        self._state = state
        self._notify = notify
        self._clock = clock
        self._metrics = metrics
        self._health = health
        self._config = config
        self._jitter_source = jitter_source
        self._usage = usage or UsageRecorder(state, clock, metrics)
        self._directory = directory  # None: posts are parsed without their channel's details
        self._deliver = deliver  # None: results are not delivered anywhere

    async def __call__(
        self, message: IncomingMessage, owner: str, gate: CallGate | None = None
    ) -> Processed:
        """*gate* is entered right before the LLM call and left as soon as it answers,
        before anything is saved (the engine's concurrency permit; not on a cache hit).
        Raises only StorageError (the save failed past the outage limit), GateClosed (the
        worker stops before the call) and CancelledError."""
        claimed = attrs.evolve(message)  # as claimed: what an internal error is recorded on
        try:
            return await self._process(message, owner, gate)
        except (StorageError, GateClosed, asyncio.CancelledError):
            raise
        except Exception as exc:
            return await self._internal_error(claimed, owner, exc)

    async def _process(
        self,
        message: IncomingMessage,
        owner: str,
        gate: CallGate | None,
    ) -> Processed:
        request = await self._request(message)
        profile = self._parser.profile_for(message.channel_id, request.context.channel_username)
        fingerprint = parse_fingerprint(profile.fingerprint, message.text)
        cached = await self._cached(fingerprint)
        model = self._parser.model
        made_by: dict[str, Any] = {
            "parser_fingerprint": profile.fingerprint,
            "profile": profile.name,
            "spec_hash": profile.spec_hash,
        }
        if cached is not None:  # no call: nothing spent (made under the same fingerprint)
            message.succeed(
                owner, cached, self._clock.now(), from_cache=True, model=model, **made_by
            )
            await self._queue_result(message)
            saved = await self._save(message, owner)
            self._finished(message, saved, from_cache=True)
            return Processed(MessageStatus.DONE, from_cache=True, saved=saved)

        outcome, usage = await self._call_llm(request, message, owner, gate)
        now = self._clock.now()
        message.spend(owner, usage)
        if isinstance(outcome, ParseSuccess):
            message.succeed(owner, outcome.data, now, model=outcome.model or model, **made_by)
            await self._queue_result(message)
            saved = await self._save(message, owner)
            self._finished(message, saved)
            await self._usage(usage)
            await self._remember(fingerprint, outcome.data)
            return Processed(MessageStatus.DONE, saved=saved)

        retry = self._apply_failure(message, owner, outcome, now)
        saved = await self._save(message, owner)
        self._finished(message, saved)
        await self._usage(usage)
        log.info(
            "message %s: %s (code %s) -> %s%s",
            message.key,
            outcome.kind,
            outcome.code,
            message.status,
            f", attempt {retry.attempt} in {retry.delay.total_seconds():.0f} s" if retry else "",
        )
        await self._after_failure(outcome, retry, now)
        return Processed(message.status, outcome, retry, saved=saved)

    def _apply_failure(
        self, message: IncomingMessage, owner: str, failure: LLMFailure, now: datetime
    ) -> RetryScheduled | None:
        u = self._jitter_source() if self._config.backoff.jitter else None
        limit = self._config.internal_error_limit
        return message.apply_failure(owner, failure, self._config.backoff, now, u, limit)

    async def _internal_error(
        self, claimed: IncomingMessage, owner: str, exc: Exception
    ) -> Processed:
        """Record *exc* as an internal error of the message as it was claimed. The save is
        conditional on the lease, as every save: when the outcome was saved before the
        error (e.g. a failing cache write), nothing is overwritten."""
        log.error(
            "message %s: internal error while processing: %s: %s",
            claimed.key,
            type(exc).__name__,
            exc,
            exc_info=exc,
        )
        failure = _internal(exc)
        now = self._clock.now()
        try:
            retry = self._apply_failure(claimed, owner, failure, now)
        except Exception:  # the backoff itself failed: stop the message for a person
            claimed.fail(owner, failure, now)
            retry = None
        saved = await self._health.retry(
            lambda: self._messages.save(claimed, owner), self._config.storage_retry_max
        )
        if saved:
            self._metrics.message_finished(claimed.status)
            log.info("message %s: internal error -> %s", claimed.key, claimed.status)
        else:  # saved before the error, or the lease was lost: either way, not ours now
            log.info("message %s: no longer held; the internal error is not recorded", claimed.key)
        return Processed(claimed.status, failure, retry, saved=saved)

    async def _request(self, message: IncomingMessage) -> ParseRequest:
        """The post, its channel and when it was posted: what the parser is given."""
        channel = None
        if self._directory is not None:
            channel = await self._directory.get(message.channel_id)
        context = PostContext(
            posted_at=message.posted_at,
            channel_title=None if channel is None else channel.title,
            channel_username=None if channel is None else channel.username,
        )
        return ParseRequest(message.text, str(message.key), message.channel_id, context)

    async def _call_llm(
        self,
        request: ParseRequest,
        message: IncomingMessage,
        owner: str,
        gate: CallGate | None,
    ) -> tuple[ParseOutcome, LLMUsage]:
        """The call, with the message's lease renewed while it waits for its permit and
        while it runs; its usage, timed. The parser's own exceptions (a bug) come back as
        an internal error."""
        renewing = asyncio.create_task(self._renew_lease(message, owner))
        try:
            if gate is not None:
                await gate.enter()
            started = self._clock.now()
            try:
                outcome = await self._parser.parse(request)
            except asyncio.CancelledError:
                if gate is not None:
                    await gate.leave(None)
                raise
            except Exception as exc:
                log.error(
                    "message %s: the LLM parser raised %s: %s",
                    message.key,
                    type(exc).__name__,
                    exc,
                    exc_info=exc,
                )
                outcome = _internal(exc)
                if gate is not None:
                    await gate.leave(None)  # no answer: the limiter learns nothing from it
            else:
                if gate is not None:
                    await gate.leave(outcome)
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
        seconds = (self._clock.now() - started).total_seconds()
        if isinstance(outcome, ParseSuccess):
            self._metrics.llm_call(None, None, seconds)
        else:
            self._metrics.llm_call(outcome.kind, outcome.code, seconds)
        return outcome, outcome.usage.timed(seconds)

    async def _renew_lease(self, message: IncomingMessage, owner: str) -> None:
        every = self._config.lease.total_seconds() / 3
        while True:
            await self._clock.sleep(every)
            try:
                until = self._clock.now() + self._config.lease
                if not await self._messages.renew_lease(message.key, owner, until):
                    log.warning("message %s: lease lost while parsing", message.key)
                    return
            except StorageError as exc:
                log.warning("message %s: could not renew the lease: %s", message.key, exc)

    async def _queue_result(self, message: IncomingMessage) -> None:
        """Into the outbox for its routes, just before the save (ADR 0017): a crash between
        the two parses the post again and delivers it again; a saved result is never left
        undelivered. A storage outage longer than the limit raises, like the save."""
        if self._deliver is not None:
            await self._deliver(message)

    async def _save(self, message: IncomingMessage, owner: str) -> bool:
        """Save, riding out a short storage outage; re-raises when it lasts too long
        (the message is then found again when its lease expires)."""
        saved = await self._health.retry(
            lambda: self._messages.save(message, owner), self._config.storage_retry_max
        )
        if not saved:
            log.warning("message %s: lease lost; the outcome was not saved", message.key)
        return saved

    def _finished(self, message: IncomingMessage, saved: bool, *, from_cache: bool = False) -> None:
        """Counted as soon as the outcome is saved, and only then: the bookkeeping after the
        save (usage, cache) may wait out a storage outage, and a message whose lease was lost
        is finished by whoever holds it now."""
        if saved:
            self._metrics.message_finished(message.status, from_cache=from_cache)

    async def _cached(self, fingerprint: str) -> dict[str, Any] | None:
        """The cached result; a miss when the store fails (the cache is an optimisation,
        and failing here would leave the message claimed until its lease expired)."""
        try:
            return await self._cache.get(fingerprint)
        except StorageError as exc:
            log.warning("could not read the parse cache; parsing anew: %s", exc)
            return None

    async def _remember(self, fingerprint: str, result: dict[str, Any]) -> None:
        try:
            await self._cache.put(fingerprint, result, self._clock.now())
        except StorageError as exc:  # the cache is an optimisation; never fail for it
            log.warning("could not store a parse result in the cache: %s", exc)

    async def _after_failure(
        self, failure: LLMFailure, retry: RetryScheduled | None, now: datetime
    ) -> None:
        effect = failure.effect
        already_misconfigured = False
        if effect.gate is not GateAction.NONE:
            gate = await self._state.quota_gate()
            already_misconfigured = gate.state is GateState.MISCONFIGURED
            closed = gate.close(
                failure,
                now,
                self._config.quota_probe_interval,
                settings=self._parser.settings_fingerprint,
            )
            if closed != gate:
                await self._state.set_quota_gate(closed)
                self._metrics.set_gate(closed.state)

        if effect.notify is NotificationKind.QUOTA_EXHAUSTED:
            await self._notify(effect.notify, lambda: notifications.quota_exhausted(now))
        elif effect.notify is NotificationKind.RATE_LIMITED and retry is not None:
            await self._notify(
                effect.notify,
                lambda: notifications.rate_limited(now, retry.attempt, retry.delay),
            )
        elif effect.notify is NotificationKind.MISCONFIGURED and not already_misconfigured:
            # Told once until fixed: while the gate stays closed for this, no more.
            await self._notify(
                effect.notify,
                lambda: notifications.misconfigured(now, failure.code, failure.message),
            )


def _internal(exc: Exception) -> LLMFailure:
    return LLMFailure(
        FailureKind.INTERNAL, type(exc).__name__, f"{type(exc).__name__}: {exc}"[:500]
    )
