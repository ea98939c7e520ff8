"""SIGINT and SIGTERM handed to a callback while a block runs (the service's stop, an
export's follow)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def on_stop_signals(handler: Callable[[signal.Signals], None]) -> Iterator[None]:
    """Call *handler* with the signal on SIGINT or SIGTERM inside the block; where the
    loop cannot take signal handlers (not the main thread, no support) nothing is
    installed. The earlier handling is back after the block."""
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, handler, sig)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):
            pass
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
