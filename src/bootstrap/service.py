"""Running the engine as a service: the Telegram listener, monitoring, signals."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import TYPE_CHECKING, Any

from application.engine import Engine
from application.errors import ConfigurationError, StorageError

if TYPE_CHECKING:
    from bootstrap.container import Container

log = logging.getLogger(__name__)
METRICS_REFRESH_SECONDS = 15.0


async def run_until_signal(engine: Engine, *, until_idle: bool = False) -> None:
    """Run the engine; SIGINT/SIGTERM stop claiming and let in-flight calls finish."""
    loop = asyncio.get_running_loop()

    def stop(name: str) -> None:
        log.info("%s received: stopping (in-flight calls may finish)", name)
        engine.stop()

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop, sig.name)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # not the main thread, or no support
            pass
    try:
        await engine.run(until_idle=until_idle)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def run_service(container: Container, *, listen: bool = True) -> None:
    from adapters.http.monitoring import MonitoringServer
    from bootstrap.container import resolve

    settings = container.settings()
    engine = await resolve(container.engine)
    metrics = container.metrics()
    messages = await resolve(container.messages)
    background: list[asyncio.Task[Any]] = []
    server = None
    if settings.metrics_port:
        server = MonitoringServer(
            settings.metrics_host,
            settings.metrics_port,
            health=lambda: (
                metrics.storage_is_up,
                {"in_flight": engine.in_flight, "owner": engine.owner},
            ),
            metrics=metrics.render,
        )
        await server.start()
        log.info("monitoring on http://%s:%d/metrics", settings.metrics_host, server.port)

    async def refresh_metrics() -> None:
        while True:
            with contextlib.suppress(StorageError):
                stats = await messages.stats()
                metrics.set_messages({str(s): n for s, n in stats.by_status.items()})
            await asyncio.sleep(METRICS_REFRESH_SECONDS)

    background.append(asyncio.create_task(refresh_metrics()))
    client = None
    if listen and _telegram_configured(settings):
        client, listener = await _listener(container)
        background.append(asyncio.create_task(listener))
    else:
        log.info("no Telegram listener in this process: working as a worker only")
    try:
        await run_until_signal(engine)
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        if client is not None:
            await client.disconnect()
        if server is not None:
            await server.stop()


def _telegram_configured(settings: Any) -> bool:
    return bool(
        settings.telegram_api_id and settings.telegram_api_hash and settings.telegram_channels
    )


async def _listener(container: Container) -> tuple[Any, Any]:
    """Connect the Telethon client and return it with the lease-holding listener coroutine."""
    from adapters.telegram.client import make_client
    from adapters.telegram.telethon_source import TelethonPostSource
    from application.use_cases.listener_lease import ListenerLease
    from bootstrap.container import resolve

    settings = container.settings()
    api_id, api_hash = settings.telegram_api_id, settings.telegram_api_hash
    if api_id is None or api_hash is None:
        raise ConfigurationError("TELEGRAM_API_ID and TELEGRAM_API_HASH are needed to listen")
    client = make_client(settings.telegram_session, api_id, api_hash.get_secret_value())
    await client.connect()
    if not await client.is_user_authorized():
        await client.disconnect()
        raise ConfigurationError(
            f"TELEGRAM_SESSION {settings.telegram_session}: not logged in; "
            "run `channel-parser login` first"
        )
    source = TelethonPostSource(
        client,
        settings.telegram_channels,
        await resolve(container.ingest),
        await resolve(container.messages),
        await resolve(container.channels),
        await resolve(container.notifier),
        container.clock(),
        backfill_seconds=settings.backfill_seconds,
    )
    lease = ListenerLease(
        await resolve(container.state),
        container.clock(),
        account=settings.telegram_session.stem,
        owner=container.owner(),
    )
    return client, lease.hold(source.run)
