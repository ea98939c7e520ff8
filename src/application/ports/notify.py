"""Telling the admins."""

from __future__ import annotations

from typing import Protocol


class AdminNotifier(Protocol):
    async def send(self, text: str) -> bool:
        """Deliver *text* to every configured admin; False when it could not be delivered.
        Must not raise: a failed notification never disturbs processing."""
        ...
