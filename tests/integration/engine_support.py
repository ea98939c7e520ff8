"""The whole engine, as the service builds it, on a real store and the simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
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
    container = Container(settings=settings)
    container.notifier.override(providers.Object(notifier or RecordingNotifier()))
    try:
        yield container
    finally:
        await shutdown(container)


@asynccontextmanager
async def simulator(**config: Any) -> AsyncIterator[ZaiSimulator]:
    async with ZaiSimulator(SimulatorConfig(**config)) as sim:
        yield sim
