"""``channel-parser run``: the service — Telegram listener, workers, timers, monitoring."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from channel_parser.bootstrap.app import app

if TYPE_CHECKING:
    from channel_parser.bootstrap.container import Container


@app.command()
def run(
    no_listener: bool = typer.Option(
        False, "--no-listener", help="Work as a worker only, even with Telegram configured."
    ),
) -> None:
    """Run the service until SIGINT/SIGTERM: listen to the configured channels (one
    listener per Telegram account across all processes), parse with the adaptive
    worker, retry on the backoff timer, probe the quota, recover stuck messages, and
    serve /healthz and /metrics on METRICS_HOST:METRICS_PORT (loopback by default).
    Without TELEGRAM_API_ID/TELEGRAM_API_HASH/TELEGRAM_CHANNELS it is a worker only."""
    from channel_parser.bootstrap.container import run_with_container
    from channel_parser.bootstrap.service import run_service

    async def use(container: Container) -> None:
        await run_service(container, listen=not no_listener)

    run_with_container(use)
