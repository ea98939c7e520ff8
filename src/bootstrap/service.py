"""Running the engine as a service: the Telegram listener, monitoring, signals."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from channel_parser.application.engine import Engine
from channel_parser.application.errors import ConfigurationError, StorageError
from channel_parser.bootstrap.app import ServiceStopped

if TYPE_CHECKING:
    from channel_parser.bootstrap.container import Container

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
    from channel_parser.adapters.http.monitoring import MonitoringServer
    from channel_parser.bootstrap.container import resolve

    settings = container.settings()
    engine = await resolve(container.engine)
    metrics = container.metrics()
    messages = await resolve(container.messages)
    background: list[asyncio.Task[Any]] = []
    failures: list[str] = []
    server = None

    def supervise(coro: Coroutine[Any, Any, Any], name: str) -> None:
        """A background task that ends with an error stops the service (a supervisor
        restarts it) instead of failing unseen."""

        def ended(task: asyncio.Task[Any]) -> None:
            if task.cancelled() or task.exception() is None:
                return
            error = task.exception()
            log.error("%s stopped: %s", name, error, exc_info=error)
            failures.append(f"{name} stopped: {error}")
            engine.stop()

        task = asyncio.create_task(coro)
        task.add_done_callback(ended)
        background.append(task)

    async def refresh_metrics() -> None:
        while True:
            with contextlib.suppress(StorageError):
                stats = await messages.stats()
                metrics.set_messages({str(s): n for s, n in stats.by_status.items()})
            await asyncio.sleep(METRICS_REFRESH_SECONDS)

    try:
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
        supervise(refresh_metrics(), "the metrics refresh")
        if listen and _telegram_configured(settings):
            supervise(await _listener(container), "the Telegram listener")
        else:
            log.info("no Telegram listener in this process: working as a worker only")
        await run_until_signal(engine)
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        if server is not None:
            await server.stop()
    if failures:
        raise ServiceStopped("; ".join(failures))


def _telegram_configured(settings: Any) -> bool:
    return bool(
        settings.telegram_api_id and settings.telegram_api_hash and settings.telegram_channels
    )


async def _listener(container: Container) -> Coroutine[Any, Any, None]:
    """Return the listener: it waits for the account's lease and only then connects, so
    that one process at a time uses the session (Telegram refuses it from two places at
    once; even a short check from a second process would). A missing session file is
    refused here, at start; a session that is not logged in when the listener connects."""
    from channel_parser.adapters.telegram.client import make_client, session_file
    from channel_parser.adapters.telegram.telethon_source import TelethonPostSource
    from channel_parser.application.use_cases.listener_lease import ListenerLease
    from channel_parser.bootstrap.container import resolve

    settings = container.settings()
    api_id, api_hash = settings.telegram_api_id, settings.telegram_api_hash
    if api_id is None or api_hash is None:
        raise ConfigurationError("TELEGRAM_API_ID and TELEGRAM_API_HASH are needed to listen")
    client = make_client(settings.telegram_session, api_id, api_hash.get_secret_value())
    source = TelethonPostSource(  # a bad TELEGRAM_CHANNELS entry is refused here, at start
        client,
        settings.telegram_channels,
        await resolve(container.ingest),
        await resolve(container.messages),
        await resolve(container.channels),
        await resolve(container.notifier),
        container.clock(),
        backfill_seconds=settings.backfill_seconds,
    )
    session = session_file(settings.telegram_session)
    if not session.exists():
        raise ConfigurationError(
            f"TELEGRAM_SESSION {session}: no such session; run `channel-parser login` first"
        )

    async def listen() -> None:
        await client.connect()
        try:
            if not await client.is_user_authorized():
                raise ConfigurationError(
                    f"TELEGRAM_SESSION {session}: not logged in; run `channel-parser login`"
                )
            running = asyncio.ensure_future(source.run())
            lost = asyncio.ensure_future(client.disconnected)
            await asyncio.wait({running, lost}, return_when=asyncio.FIRST_COMPLETED)
            if running.done():
                running.result()
                return
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
            raise ConnectionError("the connection to Telegram was lost and not restored")
        finally:
            await client.disconnect()

    lease = ListenerLease(
        await resolve(container.state),
        container.clock(),
        account=settings.telegram_session.stem,
        owner=container.owner(),
    )
    return lease.hold(listen)
