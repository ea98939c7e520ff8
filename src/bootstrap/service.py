"""Running the engine as a service: the Telegram listener, the outbox delivery,
monitoring, signals."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from channel_parser.application.deliveries import Deliveries
from channel_parser.application.engine import Engine
from channel_parser.application.errors import StorageError
from channel_parser.application.ports.notify import NotificationSender
from channel_parser.application.storage_health import StorageHealth
from channel_parser.application.use_cases.get_status import GetStatus
from channel_parser.application.use_cases.listener_lease import ListenerLease
from channel_parser.bootstrap.app import ServiceStopped
from channel_parser.bootstrap.signals import on_stop_signals

if TYPE_CHECKING:
    from channel_parser.adapters.http.monitoring import MonitoringServer
    from channel_parser.adapters.metrics.prometheus import PrometheusMetrics
    from channel_parser.adapters.telegram.listener import TelegramListener

log = logging.getLogger(__name__)
METRICS_REFRESH_SECONDS = 15.0


async def run_until_signal(engine: Engine, *, until_idle: bool = False) -> None:
    """Run the engine; SIGINT/SIGTERM stop claiming and let in-flight calls finish."""

    def stop(sig: signal.Signals) -> None:
        log.info("%s received: stopping (in-flight calls may finish)", sig.name)
        engine.stop()

    with on_stop_signals(stop):
        await engine.run(until_idle=until_idle)


class HealthCheck:
    """What /healthz answers: whether the store answers, and what this process runs."""

    def __init__(self, health: StorageHealth, engine: Engine) -> None:
        self._health = health
        self._engine = engine

    def __call__(self) -> tuple[bool, dict[str, Any]]:
        return self._health.up, {"in_flight": self._engine.in_flight, "owner": self._engine.owner}


class Service:
    """`run`: the engine until a signal, with monitoring, a metrics refresh, the outbox
    delivery and (when this process holds the account's lease) the Telegram listener
    beside it. The admins' sender is checked once at start (a wrong bot token stops it)."""

    def __init__(
        self,
        engine: Engine,
        status: GetStatus,
        metrics: PrometheusMetrics,
        monitoring: MonitoringServer | None,
        listener: TelegramListener | None,
        lease: ListenerLease,
        deliveries: Deliveries,
        sender: NotificationSender,
    ) -> None:
        self.engine = engine
        self._status = status
        self._metrics = metrics
        self._monitoring = monitoring
        self._listener = listener
        self._lease = lease
        self._deliveries = deliveries
        self._sender = sender
        self._background: list[asyncio.Task[Any]] = []
        self._failures: list[str] = []

    async def run(self) -> None:
        await self._sender.check()
        try:
            self._supervise(self._deliveries.run(), "the outbox delivery")
            if self._monitoring is not None:
                await self._monitoring.start()
                log.info("monitoring on %s", self._monitoring.url)
            self._supervise(self._refresh_metrics(), "the metrics refresh")
            if self._listener is not None:
                self._supervise(self._lease.hold(self._listener.listen), "the Telegram listener")
            else:
                log.info("no Telegram listener in this process: working as a worker only")
            await run_until_signal(self.engine)
        finally:
            for task in self._background:
                task.cancel()
            await asyncio.gather(*self._background, return_exceptions=True)
            if self._monitoring is not None:
                await self._monitoring.stop()
        if self._failures:
            raise ServiceStopped("; ".join(self._failures))

    def _supervise(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        """A background task that ends with an error stops the service (a supervisor
        restarts it) instead of failing unseen."""

        def ended(task: asyncio.Task[Any]) -> None:
            if task.cancelled() or task.exception() is None:
                return
            error = task.exception()
            log.error("%s stopped: %s", name, error, exc_info=error)
            self._failures.append(f"{name} stopped: {error}")
            self.engine.stop()

        task = asyncio.create_task(coro)
        task.add_done_callback(ended)
        self._background.append(task)

    async def _refresh_metrics(self) -> None:
        """The gauges that come from the store (as `status` reads it), every 15 s."""
        while True:
            with contextlib.suppress(StorageError):
                self._metrics.set_status(await self._status())
            if self._listener is not None:
                self._metrics.set_listener(self._lease.holding)
            await asyncio.sleep(METRICS_REFRESH_SECONDS)
