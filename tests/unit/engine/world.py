"""The engine wired to in-memory fakes and a fake clock: one 'process' of the service."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import attrs

from channel_parser.application.config import EngineConfig
from channel_parser.application.engine import Engine
from channel_parser.application.limiter import AdaptiveLimiter
from channel_parser.application.ports.storage import NewPost
from channel_parser.application.use_cases.claim_message import ClaimMessage
from channel_parser.application.use_cases.ingest import IngestPost
from channel_parser.application.use_cases.notify_admins import NotifyAdmins
from channel_parser.application.use_cases.probe_quota import ProbeQuota
from channel_parser.application.use_cases.process_message import ProcessMessage
from channel_parser.application.use_cases.recover_stuck import RecoverStuck
from channel_parser.application.use_cases.resume_parsing import ResumeParsing
from channel_parser.domain.concurrency import ConcurrencyLimit
from channel_parser.domain.message import IncomingMessage, MessageKey
from tests.fakes.clock import FakeClock
from tests.fakes.llm import FakeParser
from tests.fakes.metrics import RecordingMetrics
from tests.fakes.notify import RecordingNotifier
from tests.fakes.storage import (
    InMemoryChannelRegistry,
    InMemoryMessageRepository,
    InMemoryParseCache,
    InMemoryServiceState,
)

CHANNEL = -1001234567890


@attrs.define
class Shared:
    """What several processes share: the store and the clock."""

    clock: FakeClock = attrs.field(factory=FakeClock)
    messages: InMemoryMessageRepository = attrs.field(factory=InMemoryMessageRepository)
    cache: InMemoryParseCache = attrs.field(factory=InMemoryParseCache)
    channels: InMemoryChannelRegistry = attrs.field(factory=InMemoryChannelRegistry)
    state: InMemoryServiceState = attrs.field(factory=InMemoryServiceState)
    notifier: RecordingNotifier = attrs.field(factory=RecordingNotifier)


class World:
    def __init__(
        self,
        shared: Shared | None = None,
        parser: FakeParser | None = None,
        config: EngineConfig | None = None,
        limit: ConcurrencyLimit | None = None,
        owner: str = "worker-1",
    ) -> None:
        self.shared = shared or Shared()
        s = self.shared
        self.clock = s.clock
        self.messages, self.state, self.notifier = s.messages, s.state, s.notifier
        self.parser = parser or FakeParser()
        self.metrics = RecordingMetrics()
        self.config = config or EngineConfig()
        self.notify = NotifyAdmins(s.state, s.notifier, self.config.throttle, s.clock, self.metrics)
        self.resume = ResumeParsing(s.messages, s.state, self.notify, s.clock, self.metrics)
        self.process = ProcessMessage(
            s.messages,
            s.cache,
            self.parser,
            s.state,
            self.notify,
            s.clock,
            self.metrics,
            self.config,
            jitter_source=lambda: 0.5,
        )
        self.limiter = AdaptiveLimiter(limit or ConcurrencyLimit(limit=4, max_limit=32))
        self.engine = Engine(
            claim=ClaimMessage(s.messages, s.channels, s.state, s.clock, self.config),
            process=self.process,
            recover=RecoverStuck(s.messages, s.clock),
            probe=ProbeQuota(
                self.parser, s.state, self.notify, self.resume, s.clock, self.config, owner
            ),
            messages=s.messages,
            state=s.state,
            limiter=self.limiter,
            notify=self.notify,
            clock=s.clock,
            metrics=self.metrics,
            config=self.config,
            owner=owner,
        )
        self.ingest = IngestPost(s.messages, s.clock, on_stored=self.engine.wake)
        self._task: asyncio.Task[None] | None = None

    async def post(self, message_id: int, text: str | None = None, channel: int = CHANNEL) -> None:
        await self.ingest(NewPost(channel, message_id, text or f"post number {message_id}"))

    def start(self, *, until_idle: bool = False) -> asyncio.Task[None]:
        self._task = asyncio.create_task(self.engine.run(until_idle=until_idle))
        return self._task

    async def stop(self) -> None:
        self.engine.stop()
        if self._task is not None:
            await asyncio.wait_for(self._task, timeout=5)

    def message(self, message_id: int, channel: int = CHANNEL) -> IncomingMessage:
        return self.messages.messages[MessageKey(channel, message_id)]

    async def settle(self, until: Callable[[], bool] | None = None, rounds: int = 0) -> None:
        """Let tasks run (no time passes) until *until* holds, or for a number of rounds."""
        for _ in range(rounds or (2000 if until else 100)):
            if until is not None and until():
                return
            await asyncio.sleep(0)
        if until is not None:
            raise AssertionError("condition not reached while settling")

    async def advance(self, seconds: float) -> None:
        await self.clock.advance(seconds)
        await self.settle()


def fast_config(**changes: object) -> EngineConfig:
    base = EngineConfig(poll_interval=timedelta(seconds=2))
    return attrs.evolve(base, **changes)  # type: ignore[arg-type]
