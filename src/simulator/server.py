"""``ZaiSimulator``: a Z.AI-like chat-completions server on 127.0.0.1, in-process or standalone.

async with ZaiSimulator(SimulatorConfig(concurrency_limit=4)) as sim:
    parser = ...(base_url=sim.base_url)
    sim.script("1302", "hang")       # the next two calls fail so
    sim.trigger("BOOM", "1301")      # every post containing "BOOM" is refused
    sim.top_up(100)
    sim.stats().peak_in_flight
"""

from __future__ import annotations

import asyncio
import socket
from types import TracebackType
from typing import Any

from aiohttp import web

from channel_parser.simulator.app import build_app
from channel_parser.simulator.config import FaultSpec, SimulatorConfig
from channel_parser.simulator.replies import text_key
from channel_parser.simulator.state import SimulatorState, SimulatorStats

API_PATH = "/api/paas/v4"


class ZaiSimulator:
    def __init__(self, config: SimulatorConfig | None = None, **fields: Any) -> None:
        """Either a config, or its fields as keywords: ``ZaiSimulator(concurrency_limit=2)``."""
        self.config = config or SimulatorConfig(**fields)
        self._state = SimulatorState(self.config)
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def root_url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL, shaped like Z.AI's."""
        return self.root_url + API_PATH

    async def start(self) -> None:
        self._closing = asyncio.Event()
        app = build_app(self._state, self._closing)
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, handler_cancellation=True
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.config.host, self.config.port))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        self._closing.set()  # release hanging requests
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> ZaiSimulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- the Python API of the admin routes ---------------------------------------------
    def stats(self) -> SimulatorStats:
        return self._state.stats()

    def reset_stats(self) -> None:
        """Zero the counters; the limit schedule starts again at the next call."""
        self._state.reset_stats()

    def top_up(self, amount: int) -> int | None:
        """Add to the balance; returns the new balance (None when the balance is unlimited)."""
        return self._state.top_up(amount)

    def script(self, *faults: FaultSpec | str | dict[str, Any]) -> None:
        """Serve these faults to the next calls, one each, in order."""
        self._state.script([FaultSpec.of(f) for f in faults])

    def trigger(
        self, needle: str, fault: FaultSpec | str | dict[str, Any], times: int | None = None
    ) -> None:
        """Serve *fault* to calls whose post contains *needle* (*times* times, or always)."""
        self._state.trigger(needle, FaultSpec.of(fault), times)

    def clear_faults(self) -> None:
        self._state.clear_faults()

    @staticmethod
    def text_key(text: str) -> str:
        """The key of ``stats().successes_by_text`` for a post's text."""
        return text_key(text)
