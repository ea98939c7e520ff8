"""An admin notifier that remembers what it was asked to send."""

from __future__ import annotations


class RecordingNotifier:
    def __init__(self, *, deliver: bool = True) -> None:
        self.sent: list[str] = []
        self.deliver = deliver

    async def send(self, text: str) -> bool:
        self.sent.append(text)
        return self.deliver

    def starting_with(self, prefix: str) -> list[str]:
        return [text for text in self.sent if text.startswith(prefix)]
