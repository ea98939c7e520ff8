"""Parse one claimed message and move it on: DONE, or RETRY/ERROR as its failure says."""

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
from channel_parser.application.config import EngineConfig
from channel_parser.application.errors import StorageError
from channel_parser.application.fingerprint import parse_fingerprint
from channel_parser.application.ports.clock import Clock
from channel_parser.application.ports.llm import LLMParser, ParseOutcome, ParseRequest, ParseSuccess
from channel_parser.application.ports.metrics import Metrics
from channel_parser.application.ports.storage import MessageRepository, ParseCache, ServiceState
from channel_parser.application.storage_health import StorageHealth
from channel_parser.application.use_cases.notify_admins import NotifyAdmins
from channel_parser.domain.failures import GateAction, LLMFailure, NotificationKind
from channel_parser.domain.gate import GateState
from channel_parser.domain.message import IncomingMessage, RetryScheduled
from channel_parser.domain.status import MessageStatus

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

    async def __call__(
        self, message: IncomingMessage, owner: str, gate: CallGate | None = None
    ) -> Processed:
        """*gate* is entered right before the LLM call and left as soon as it answers,
        before anything is saved (the engine's concurrency permit; not on a cache hit)."""
        fingerprint = parse_fingerprint(self._parser.fingerprint, message.text)
        cached = await self._cached(fingerprint)
        if cached is not None:
            message.succeed(owner, cached, self._clock.now(), from_cache=True)
            saved = await self._save(message, owner)
            self._metrics.message_finished(MessageStatus.DONE, from_cache=True)
            return Processed(MessageStatus.DONE, from_cache=True, saved=saved)

        outcome = await self._call_llm(message, owner, gate)
        now = self._clock.now()
        if isinstance(outcome, ParseSuccess):
            message.succeed(owner, outcome.data, now)
            saved = await self._save(message, owner)
            await self._remember(fingerprint, outcome.data)
            self._metrics.message_finished(MessageStatus.DONE)
            return Processed(MessageStatus.DONE, saved=saved)

        u = self._jitter_source() if self._config.backoff.jitter else None
        retry = message.apply_failure(owner, outcome, self._config.backoff, now, u)
        saved = await self._save(message, owner)
        self._metrics.message_finished(message.status)
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

    async def _call_llm(
        self, message: IncomingMessage, owner: str, gate: CallGate | None
    ) -> ParseOutcome:
        """The call, with the message's lease renewed while it waits for its permit and
        while it runs."""
        renewing = asyncio.create_task(self._renew_lease(message, owner))
        try:
            if gate is not None:
                await gate.enter()
            started = self._clock.now()
            try:
                outcome = await self._parser.parse(ParseRequest(message.text, str(message.key)))
            except BaseException:
                if gate is not None:
                    await gate.leave(None)
                raise
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
        return outcome

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

    async def _save(self, message: IncomingMessage, owner: str) -> bool:
        """Save, riding out a short storage outage; re-raises when it lasts too long
        (the message is then found again when its lease expires)."""
        saved = await self._health.retry(
            lambda: self._messages.save(message, owner), self._config.storage_retry_max
        )
        if not saved:
            log.warning("message %s: lease lost; the outcome was not saved", message.key)
        return saved

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
            closed = gate.close(failure, now, self._config.quota_probe_interval)
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
