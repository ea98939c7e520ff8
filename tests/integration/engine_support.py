"""The whole engine, as the service builds it, on a real store and the simulator."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from dependency_injector import providers
from pydantic import SecretStr

from channel_parser.bootstrap.container import Container
from channel_parser.bootstrap.runner import shutdown
from channel_parser.bootstrap.settings import Settings
from channel_parser.simulator.config import SimulatorConfig
from channel_parser.simulator.server import ZaiSimulator
from tests.fakes.notify import RecordingNotifier

KEY = "sk-engine-test-KEY-0123456789"


def settings_for(
    base_url: str, sqlite_path: Path, mongo: tuple[str, str] | None = None, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "_env_file": None,
        "mongodb_uri": SecretStr(mongo[0]) if mongo else None,
        "mongodb_database": mongo[1] if mongo else "unused",
        "sqlite_path": sqlite_path,
        "llm_provider": "zai",
        "llm_base_url": base_url,
        "llm_api_key": SecretStr(KEY),
        "llm_timeout": 5,
        "poll_seconds": 0.2,
        "quota_probe_seconds": 0.5,
        "metrics_port": 0,
    }
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def service(
    settings: Settings, notifier: RecordingNotifier | None = None
) -> AsyncIterator[Container]:
    """The container, with the outbox delivery running beside whatever the test runs (as
    the service and `process` run it); at the end, what is due is delivered first."""
    container = Container(settings=settings)
    container.notifier.override(providers.Object(notifier or RecordingNotifier()))
    delivering: asyncio.Task[None] | None = None
    try:
        deliveries = await container.deliveries.async_()
        delivering = asyncio.create_task(deliveries.run())
        yield container
    finally:
        if delivering is not None:
            delivering.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await delivering
            with contextlib.suppress(Exception):  # a test that stopped the store itself
                await deliveries.drain(timedelta(seconds=10))
        await shutdown(container)


async def notified(
    notifier: RecordingNotifier, prefix: str, count: int = 1, deadline: float = 20.0
) -> list[str]:
    """Wait until *count* notifications starting with *prefix* were delivered (they go out
    beside parsing, a moment after the message that caused them is saved)."""
    until = time.monotonic() + deadline
    while len(notifier.starting_with(prefix)) < count:
        if time.monotonic() > until:
            raise AssertionError(f"no {count} notification(s) {prefix!r}: {notifier.sent}")
        await asyncio.sleep(0.02)
    return notifier.starting_with(prefix)


@asynccontextmanager
async def simulator(**config: Any) -> AsyncIterator[ZaiSimulator]:
    async with ZaiSimulator(SimulatorConfig(**config)) as sim:
        yield sim
