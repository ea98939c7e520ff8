"""``channel-parser run``: the service — Telegram listener, workers, timers, monitoring."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from dependency_injector.providers import Singleton
from dependency_injector.wiring import Provide, Provider, inject

from channel_parser.bootstrap.app import app

if TYPE_CHECKING:
    from channel_parser.bootstrap.service import Service
    from channel_parser.bootstrap.settings import Settings


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
    from dependency_injector import providers

    from channel_parser.bootstrap.runner import run_command

    run_command(
        _run, no_listener, overrides={"listener": providers.Object(None)} if no_listener else None
    )


@inject
async def _run(
    no_listener: bool,
    settings: Settings = Provide["settings"],
    service: Singleton[Service] = Provider["service"],
) -> None:
    from channel_parser.bootstrap.container import check_listener_settings, listening

    if not no_listener and listening(settings) == "live":
        check_listener_settings(settings)  # before the store or anything else is opened
    await (await service.async_()).run()
