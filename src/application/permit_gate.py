"""One message's way to a concurrency permit, held exactly while the provider has its
call (the engine's side of process_message.CallGate)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from channel_parser.application.limiter import AdaptiveLimiter, Permit
from channel_parser.application.ports.llm import ParseOutcome
from channel_parser.domain.failures import GateAction, LLMFailure


class GateClosed(Exception):
    """The worker is stopping: the message goes back without its call."""


class PermitGate:
    """One message's way to a permit: entered right before its LLM call, left as soon as
    the provider answers (process_message.CallGate)."""

    def __init__(
        self,
        limiter: AdaptiveLimiter,
        stopping: asyncio.Event,
        on_quota_gate_closing: Callable[[], None] | None = None,
    ) -> None:
        self._limiter = limiter
        self._stopping = stopping
        self._on_closing = on_quota_gate_closing
        self._permit: Permit | None = None
        self.waiting = False  # in enter(), for a permit: the call has not started

    async def enter(self) -> None:
        """Wait for a permit; GateClosed once the worker is stopping."""
        if self._stopping.is_set():
            raise GateClosed
        self.waiting = True
        try:
            self._permit = await self._limiter.acquire()
        finally:
            self.waiting = False

    async def leave(self, outcome: ParseOutcome | None) -> None:
        if self._permit is None:
            return
        permit, self._permit = self._permit, None
        refused = None
        if isinstance(outcome, LLMFailure):
            refused = outcome.effect.concurrency_signal
            if outcome.effect.gate is not GateAction.NONE and self._on_closing is not None:
                self._on_closing()
        elif outcome is not None:
            refused = False
        await self._limiter.release(permit, refused=refused)
