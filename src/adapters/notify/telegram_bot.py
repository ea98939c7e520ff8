"""The admin notifier through the Telegram Bot API over HTTP (docs/adr/0007).

Sends each notification to every configured admin chat with ``sendMessage``, honours
429 ``retry_after`` (or "retry after N" in old descriptions) with a bounded number of
tries, and never raises: a failure is logged (never with the token) and reported as
False, so a failed notification never disturbs processing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import aiohttp

from channel_parser.application.ports.clock import Clock

log = logging.getLogger(__name__)

MAX_TEXT = 4096  # Telegram's limit for one message
_RETRY_AFTER = re.compile(r"retry after (\d+)", re.IGNORECASE)


class TelegramBotNotifier:
    def __init__(
        self,
        token: str,
        chat_ids: Sequence[int],
        clock: Clock,
        *,
        api_base: str = "https://api.telegram.org",
        max_tries: int = 3,
        max_wait: float = 60.0,
        timeout: float = 10.0,
    ) -> None:
        self._token = token
        self._chat_ids = list(dict.fromkeys(chat_ids))  # only these, each once
        self._clock = clock
        self._url = f"{api_base.rstrip('/')}/bot{token}/sendMessage"
        self._max_tries = max(1, max_tries)
        self._max_wait = max_wait  # a longer retry_after gives up rather than stall
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> TelegramBotNotifier:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, text: str) -> bool:
        """True when every admin chat got *text*; never raises."""
        if not self._chat_ids:
            log.warning("admin notification not sent: no admin chat ids are configured")
            return False
        delivered = True
        for chat_id in self._chat_ids:
            try:
                delivered = await self._send_to(chat_id, text[:MAX_TEXT]) and delivered
            except Exception as exc:  # never let a notification break processing
                log.warning("admin notification to %s failed: %s", chat_id, self._redact(exc))
                delivered = False
        return delivered

    async def _send_to(self, chat_id: int, text: str) -> bool:
        payload = {"chat_id": chat_id, "text": text, "link_preview_options": {"is_disabled": True}}
        for attempt in range(1, self._max_tries + 1):
            wait, reason = await self._post(payload)
            if wait is None:
                return True
            if wait < 0 or attempt == self._max_tries or wait > self._max_wait:
                log.warning(
                    "admin notification to %s not delivered after %d tries: %s",
                    chat_id,
                    attempt,
                    reason,
                )
                return False
            await self._clock.sleep(wait)
        return False

    async def _post(self, payload: dict[str, Any]) -> tuple[float | None, str]:
        """One call: (None, "") on success, else (seconds to wait before a retry, or -1
        when a retry cannot help, and why)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(self._url, json=payload) as response:
                body = await _json(response)
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            return 1.0, self._redact(exc)
        if status == 200 and body.get("ok"):
            return None, ""
        description = self._redact(str(body.get("description") or f"HTTP {status}"))
        if status == 429:
            return _retry_after(body), description
        if status >= 500:
            return 1.0, description
        return -1.0, description  # 400 chat not found, 401 bad token, 403 blocked...

    def _redact(self, value: object) -> str:
        text = (
            f"{type(value).__name__}: {value}" if isinstance(value, BaseException) else str(value)
        )
        return text.replace(self._token, "<token>") if self._token else text


async def _json(response: aiohttp.ClientResponse) -> dict[str, Any]:
    try:
        body = await response.json(content_type=None)
    except (ValueError, aiohttp.ClientError):
        return {}
    return body if isinstance(body, dict) else {}


def _retry_after(body: dict[str, Any]) -> float:
    parameters = body.get("parameters")
    if isinstance(parameters, dict) and isinstance(parameters.get("retry_after"), int | float):
        return float(parameters["retry_after"])
    found = _RETRY_AFTER.search(str(body.get("description", "")))
    return float(found.group(1)) if found else 1.0
