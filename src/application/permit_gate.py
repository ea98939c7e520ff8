"""One message's way to a concurrency permit, held exactly while the provider has its
call (the engine's side of process_message.CallGate)."""

from __future__ import annotations

from collections.abc import Callable

from channel_parser.application.limiter import AdaptiveLimiter, Permit
from channel_parser.application.ports.llm import ParseOutcome
from channel_parser.domain.failures import GateAction, LLMFailure


class PermitGate:
    """One message's way to a permit: entered right before its LLM call, left as soon as
    the provider answers (process_message.CallGate)."""

    def __init__(
        self, limiter: AdaptiveLimiter, on_quota_gate_closing: Callable[[], None] | None = None
    ) -> None:
        self._limiter = limiter
        self._on_closing = on_quota_gate_closing
        self._permit: Permit | None = None
        self.started = False  # a permit was granted: the call is (or was) at the provider

    async def enter(self) -> None:
        self._permit = await self._limiter.acquire()
        self.started = True

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
