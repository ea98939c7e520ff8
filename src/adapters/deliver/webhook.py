"""A webhook route's sender: one HTTP POST of the result's record per try (ADR 0017).

Headers: ``Idempotency-Key`` (``<channel id>/<message id>``, the same for every delivery
of a post, an edit parsed again included), ``X-Channel-Parser-Parsed-At`` (when this
result was made: a later one replaces an earlier), ``X-Channel-Parser-Route``, and with a
secret ``X-Channel-Parser-Signature: sha256=<hex>``, an HMAC-SHA256 of the body's bytes.

A 2xx answer delivers it. 408, 425, 429, 5xx, 401, 403, 404 and no answer within the
deadline are tried again (the receiver is down, redeploying or misconfigured: it is kept
until it is fixed; a ``Retry-After`` in seconds is honoured); any other 4xx (400, 409,
413, 422, ...) says the receiver refuses this payload for good: given up, the reason kept.
The URL never appears in a log or a reason (it may carry a token).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import aiohttp

from channel_parser.application.ports.notify import (
    Delivered,
    DeliveryResult,
    RetryLater,
    Undeliverable,
)

RETRIED = frozenset({401, 403, 404, 408, 425, 429})
MAX_RETRY_AFTER = timedelta(hours=1)
MAX_ANSWER_BYTES = 512  # of a refusal's body, kept as its reason


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSender:
    def __init__(
        self, route: str, url: str, secret: str | None = None, *, timeout: float = 10.0
    ) -> None:
        self._route = route
        self._url = url
        self._secret = secret
        self._timeout = aiohttp.ClientTimeout(total=timeout)  # the whole call, not a read
        self._session: aiohttp.ClientSession | None = None

    @property
    def destinations(self) -> Sequence[str]:
        return [self._route]  # the route's name: the URL stays out of the store and logs

    async def check(self) -> None:
        """Nothing to check before the first delivery (a receiver may be down at start)."""

    async def deliver(self, destination: str, payload: Mapping[str, Any]) -> DeliveryResult:
        data = payload.get("record")
        if not isinstance(data, dict):
            return Undeliverable("the outbox entry holds no record")
        body = json.dumps(data, ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": f"{data.get('channel_id')}/{data.get('message_id')}",
            "X-Channel-Parser-Parsed-At": str(data.get("parsed_at")),
            "X-Channel-Parser-Route": self._route,
        }
        if self._secret:
            headers["X-Channel-Parser-Signature"] = signature(self._secret, body)
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(
                self._url, data=body, headers=headers, allow_redirects=False
            ) as response:
                status = response.status
                answer = (await response.content.read(MAX_ANSWER_BYTES)).decode(errors="replace")
                retry_after = _retry_after(response.headers.get("Retry-After"))
        except TimeoutError:
            return RetryLater("no answer within the deadline")
        except aiohttp.ClientError as exc:
            return RetryLater(f"{type(exc).__name__}: {_without_url(str(exc), self._url)}")
        if 200 <= status < 300:
            return Delivered()
        reason = f"HTTP {status} {' '.join(answer.split())[:200]}".strip()
        if status in RETRIED or status >= 500:
            return RetryLater(reason, retry_after)
        return Undeliverable(f"{reason} (the receiver refuses this payload)")

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _retry_after(value: str | None) -> timedelta | None:
    """``Retry-After`` in seconds (an HTTP date is left to the backoff), at most an hour."""
    if value is None or not value.strip().isdigit():
        return None
    return min(timedelta(seconds=int(value.strip())), MAX_RETRY_AFTER)


def _without_url(text: str, url: str) -> str:
    return text.replace(url, "<url>")
