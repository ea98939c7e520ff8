"""Time for the use cases: read the time and wait."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait *seconds* (a fake clock waits until it is advanced)."""
        ...
