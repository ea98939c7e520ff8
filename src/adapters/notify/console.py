"""The admin notifier for the demo and for setups without a bot: print each notification."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

log = logging.getLogger(__name__)


class ConsoleNotifier:
    """Prints every notification as it would be sent; keeps them in ``sent``."""

    def __init__(self, console: Console | None = None, *, pretty: bool = True) -> None:
        self._console = console if console is not None else Console(stderr=True)
        self._pretty = pretty
        self.sent: list[str] = []

    async def send(self, text: str) -> bool:
        self.sent.append(text)
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
            return False
        return True
