"""Running the engine as a service: signals, graceful stop."""

from __future__ import annotations

import asyncio
import logging
import signal

from application.engine import Engine

log = logging.getLogger(__name__)


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
