"""The admins' notifications for the demo and for setups without a bot: printed."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from channel_parser.application.ports.notify import Delivered, DeliveryResult, RetryLater

log = logging.getLogger(__name__)


class ConsoleNotifier:
    """Prints every notification as it would be sent; keeps them in ``sent``."""

    def __init__(self, console: Console | None = None, *, pretty: bool = True) -> None:
        self._console = console if console is not None else Console(stderr=True)
        self._pretty = pretty
        self.sent: list[str] = []

    @property
    def destinations(self) -> Sequence[str]:
        return ["console"]

    async def aclose(self) -> None:
        """Nothing is opened."""

    async def check(self) -> None:
        """Nothing to check: a console is always there."""

    async def deliver(self, destination: str, payload: Mapping[str, Any]) -> DeliveryResult:
        text = str(payload.get("text", ""))
        try:
            if self._pretty:
                panel = Panel(Text(text), title="notification to the admins", expand=False)
                self._console.print(panel)
            else:
                self._console.print(
                    f"[admin notification]\n{text}\n", markup=False, highlight=False
                )
        except Exception as exc:  # a broken terminal never disturbs processing
            log.warning("could not print an admin notification: %s", type(exc).__name__)
            return RetryLater(f"the console failed: {type(exc).__name__}")
        self.sent.append(text)
        return Delivered()
