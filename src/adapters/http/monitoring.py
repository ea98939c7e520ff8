"""The loopback HTTP endpoint: /healthz for liveness checks, /metrics for Prometheus."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from channel_parser.adapters.metrics.prometheus import CONTENT_TYPE


class MonitoringServer:
    def __init__(
        self,
        host: str,
        port: int,
        health: Callable[[], tuple[bool, dict[str, Any]]],
        metrics: Callable[[], bytes],
    ) -> None:
        self._host, self._port = host, port
        self._health = health
        self._metrics = metrics
        self._runner: web.AppRunner | None = None
        self.port = port

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._render_metrics)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}/metrics"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, _: web.Request) -> web.Response:
        ok, body = self._health()
        return web.json_response({"ok": ok, **body}, status=200 if ok else 503)

    async def _render_metrics(self, _: web.Request) -> web.Response:
        response = web.Response(body=self._metrics())
        response.content_type = CONTENT_TYPE.split(";")[0]
        return response
