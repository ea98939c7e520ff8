"""A scripted LLM parser: outcomes by text or from a queue, every call recorded."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

from channel_parser.application.ports.llm import (
    DEFAULT_PROFILE,
    ParseOutcome,
    ParseRequest,
    ParserProfile,
    ParseSuccess,
)
from channel_parser.domain.failures import FailureKind, LLMFailure
from channel_parser.domain.usage import LLMUsage


def default_result(text: str) -> dict[str, Any]:
    return {"summary": text[:60], "length": len(text)}


def default_usage(text: str) -> LLMUsage:
    """What a default answer costs: one call, tokens that grow with the text."""
    return LLMUsage(prompt_tokens=100 + len(text) // 4, completion_tokens=20, calls=1)


class FakeParser:
    """Answers ``ParseSuccess(default_result(text), default_usage(text))`` unless told
    otherwise (scripted outcomes carry the usage they were given).

    - ``script(*outcomes)`` queues outcomes for the next calls, in order (an exception
      in the queue is raised by its call, as a bug in a real parser would be);
    - ``fail_when(predicate, failure)`` fails every call whose text matches;
    - ``gate`` (an asyncio.Event), when set up, makes calls wait until it is set,
      so a test can hold calls in flight.
    """

    def __init__(
        self, provider: str = "fake", fingerprint: str = "fake-v1", model: str = "fake-model"
    ) -> None:
        self._provider = provider
        self._fingerprint = fingerprint
        self.settings_fingerprint = f"{provider}-settings-1"  # change it to "fix" the settings
        self._model = model
        self.queue: deque[ParseOutcome | Exception] = deque()
        self.rules: list[tuple[Callable[[str], bool], ParseOutcome]] = []
        self.calls: list[ParseRequest] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        self.gate: asyncio.Event | None = None
        self.channel_profiles: dict[int, ParserProfile] = {}  # other than the default

    @property
    def provider(self) -> str:
        return self._provider

    @property
    def model(self) -> str:
        return self._model

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def profile_for(self, channel_id: int | None, username: str | None = None) -> ParserProfile:
        if channel_id in self.channel_profiles:
            return self.channel_profiles[channel_id]
        return ParserProfile(DEFAULT_PROFILE, self._fingerprint, self._fingerprint[:12])

    def script(self, *outcomes: ParseOutcome | Exception) -> None:
        """Queue outcomes for the next calls; an exception is raised by its call."""
        self.queue.extend(outcomes)

    def fail_when(self, predicate: Callable[[str], bool], failure: ParseOutcome) -> None:
        self.rules.append((predicate, failure))

    def texts(self) -> list[str]:
        return [call.text for call in self.calls]

    async def parse(self, request: ParseRequest) -> ParseOutcome:
        self.calls.append(request)
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            if self.gate is not None:
                await self.gate.wait()
            else:
                await asyncio.sleep(0)
            if self.queue:
                outcome = self.queue.popleft()
                if isinstance(outcome, BaseException):
                    raise outcome
                return outcome
            for predicate, outcome in self.rules:
                if predicate(request.text):
                    return outcome
            return ParseSuccess(default_result(request.text), default_usage(request.text))
        finally:
            self.in_flight -= 1


def concurrency_error() -> LLMFailure:
    return LLMFailure(
        FailureKind.CONCURRENCY_LIMITED,
        "1302",
        "High concurrency usage of this API, please reduce concurrency or contact "
        "customer service to increase limits",
    )


def quota_error() -> LLMFailure:
    return LLMFailure(FailureKind.QUOTA_EXHAUSTED, "1113", "Insufficient balance")
