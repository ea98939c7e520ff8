"""A notification sender that remembers what it delivered, and can be told to refuse."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from channel_parser.application.ports.notify import Delivered, DeliveryResult


class RecordingNotifier:
    """Delivers to ``destinations`` (one admin by default) and records each text in ``sent``
    (once per notification: the first destination's copy) and every try in ``tries``.

    - ``script(*results)`` answers the next tries with these results, in order;
    - ``gate`` (an asyncio.Event), when set up, makes tries wait until it is set.
    """

    def __init__(self, destinations: Sequence[str] = ("admin",)) -> None:
        self._destinations = list(destinations)
        self.sent: list[str] = []
        self.tries: list[tuple[str, str]] = []  # (destination, text)
        self.delivered: list[tuple[str, str]] = []
        self.payloads: list[dict[str, Any]] = []  # every payload delivered
        self.queue: deque[DeliveryResult] = deque()
        self.gate: asyncio.Event | None = None
        self.checked = 0

    @property
    def destinations(self) -> Sequence[str]:
        return list(self._destinations)

    def script(self, *results: DeliveryResult) -> None:
        self.queue.extend(results)

    async def aclose(self) -> None:
        pass

    async def check(self) -> None:
        self.checked += 1

    async def deliver(self, destination: str, payload: Mapping[str, Any]) -> DeliveryResult:
        text = str(payload.get("text", ""))
        self.tries.append((destination, text))
        if self.gate is not None:
            await self.gate.wait()
        result = self.queue.popleft() if self.queue else Delivered()
        if isinstance(result, Delivered):
            self.delivered.append((destination, text))
            self.payloads.append(dict(payload))
            if destination == self._destinations[0]:
                self.sent.append(text)
        return result

    def starting_with(self, prefix: str) -> list[str]:
        return [text for text in self.sent if text.startswith(prefix)]
