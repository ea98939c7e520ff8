"""The engine wired to in-memory fakes and a fake clock: one 'process' of the service."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import attrs
from dependency_injector import providers

from channel_parser.application.config import EngineConfig
from channel_parser.application.ports.storage import NewPost
from channel_parser.bootstrap.container import Container
from channel_parser.bootstrap.delivery import Routes
from channel_parser.bootstrap.settings import Settings
from channel_parser.bootstrap.storage import Stores
from channel_parser.domain.concurrency import ConcurrencyLimit
from channel_parser.domain.message import IncomingMessage, MessageKey
from tests.fakes.clock import FakeClock
from tests.fakes.llm import FakeParser
from tests.fakes.metrics import RecordingMetrics
from tests.fakes.notify import RecordingNotifier
from tests.fakes.outbox import InMemoryOutbox
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
    outbox: InMemoryOutbox = attrs.field(factory=InMemoryOutbox)


class World:
    """One process of the service as production wires it (the real Container), with the
    store, clock, LLM, notifier and metrics overridden by fakes."""

    def __init__(
        self,
        shared: Shared | None = None,
        parser: FakeParser | None = None,
        config: EngineConfig | None = None,
        limit: ConcurrencyLimit | None = None,
        owner: str = "worker-1",
        routes: Routes | None = None,
        adaptive: bool = True,
    ) -> None:
        self.shared = shared or Shared()
        s = self.shared
        self.clock = s.clock
        self.messages, self.state, self.notifier = s.messages, s.state, s.notifier
        self.parser = parser or FakeParser()
        self.metrics = RecordingMetrics()
        self.config = config or EngineConfig()
        # Defaults only: no environment or .env file is read (the unit folder does no I/O).
        self.container = Container(settings=Settings.model_construct())
        stores = Stores(s.messages, s.cache, s.channels, s.state, "memory", outbox=s.outbox)
        for name, value in {
            "stores": stores,
            "clock": s.clock,
            "parser": self.parser,
            "notifier": s.notifier,
            "metrics": self.metrics,
            "config": self.config,
            "owner": owner,
            "jitter": lambda: 0.5,
            "limit": limit or ConcurrencyLimit(limit=4, max_limit=32),
            "routes": routes or Routes(),
            "adaptive": adaptive,
        }.items():
            getattr(self.container, name).override(providers.Object(value))
        c = self.container
        self.engine = c.engine()
        self.limiter = c.limiter()
        self.notify = c.notify()
        self.resume = c.resume()
        self.process = c.process()
        self.ingest = c.ingest()
        self.deliveries = c.deliveries()
        self._task: asyncio.Task[None] | None = None
        self._delivering: asyncio.Task[None] | None = None

    async def post(self, message_id: int, text: str | None = None, channel: int = CHANNEL) -> None:
        await self.ingest(NewPost(channel, message_id, text or f"post number {message_id}"))

    def start(self, *, until_idle: bool = False) -> asyncio.Task[None]:
        """The engine, and the outbox delivery beside it (as the service runs them)."""
        self._task = asyncio.create_task(self.engine.run(until_idle=until_idle))
        if self._delivering is None:
            self._delivering = asyncio.create_task(self.deliveries.run())
        return self._task

    async def stop(self) -> None:
        self.engine.stop()
        if self._task is not None:
            await asyncio.wait_for(self._task, timeout=5)
        if self._delivering is not None:
            self._delivering.cancel()
            await asyncio.gather(self._delivering, return_exceptions=True)
            self._delivering = None

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
